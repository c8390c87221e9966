"""On-chain pools through web3: reader, position and transaction clients, the local anvil harness."""
