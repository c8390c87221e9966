"""Contract artifacts for the local chain harness: npm's compiled Uniswap contracts and our test token.

Only tests and the harness deploy contracts, so bytecode comes from `node_modules` (installed by
`npm ci`) and never ships in the Python package. The runtime client only needs ABIs, which live in
`amm/chain/abi/*.json`; `python -m amm.chain.artifacts` regenerates them from the pinned npm packages.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
ABI_DIR = Path(__file__).resolve().parent / "abi"
TEST_TOKEN_SOURCE = Path(__file__).resolve().parent / "contracts" / "TestToken.sol"
_ANVIL_IN_NODE_MODULES = "@foundry-rs/anvil-linux-amd64/bin/anvil"
ANVIL_BIN = NODE_MODULES / _ANVIL_IN_NODE_MODULES

_V3_CORE = "@uniswap/v3-core/artifacts/contracts"
_V3_PERIPHERY = "@uniswap/v3-periphery/artifacts/contracts"

# name -> npm artifact path (relative to node_modules) of every contract the harness deploys or the
# client talks to.
NPM_ARTIFACTS: dict[str, str] = {
    "UniswapV3Factory": f"{_V3_CORE}/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": f"{_V3_CORE}/UniswapV3Pool.sol/UniswapV3Pool.json",
    "NonfungiblePositionManager": (
        f"{_V3_PERIPHERY}/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "SwapRouter": f"{_V3_PERIPHERY}/SwapRouter.sol/SwapRouter.json",
    "QuoterV2": f"{_V3_PERIPHERY}/lens/QuoterV2.sol/QuoterV2.json",
    "TickLens": f"{_V3_PERIPHERY}/lens/TickLens.sol/TickLens.json",
    "ERC20": f"{_V3_PERIPHERY}/interfaces/IERC20Metadata.sol/IERC20Metadata.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
}
# The ABIs the runtime client needs (shipped in amm/chain/abi/).
RUNTIME_ABIS = (
    "UniswapV3Factory",
    "UniswapV3Pool",
    "NonfungiblePositionManager",
    "SwapRouter",
    "QuoterV2",
    "TickLens",
    "ERC20",
)

SOLC_SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


class ArtifactsMissing(RuntimeError):
    """node_modules (anvil, Uniswap artifacts, solc) is not installed."""


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code


def require_node_modules(node_modules: Path = NODE_MODULES) -> None:
    needed = (node_modules / _ANVIL_IN_NODE_MODULES, node_modules / _V3_CORE, node_modules / "solc")
    missing = [p for p in needed if not p.exists()]
    if missing:
        raise ArtifactsMissing(
            f"{missing[0]} not found: the local chain needs the pinned npm packages. "
            f"Run `npm ci --no-audit --no-fund` in {REPO_ROOT} first."
        )


def npm_artifact(name: str, node_modules: Path = NODE_MODULES) -> Artifact:
    require_node_modules(node_modules)
    data = json.loads((node_modules / NPM_ARTIFACTS[name]).read_text(encoding="utf-8"))
    bytecode = data["bytecode"]
    if isinstance(bytecode, dict):  # truffle-style build file (WETH9)
        bytecode = bytecode["object"]
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return Artifact(name, data["abi"], bytecode)


def load_abi(name: str) -> list[dict[str, Any]]:
    """A shipped ABI (no node_modules needed)."""
    return json.loads((ABI_DIR / f"{name}.json").read_text(encoding="utf-8"))


def export_abis(node_modules: Path = NODE_MODULES, abi_dir: Path = ABI_DIR) -> list[Path]:
    abi_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RUNTIME_ABIS:
        path = abi_dir / f"{name}.json"
        path.write_text(json.dumps(npm_artifact(name, node_modules).abi, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _solc_version(node_modules: Path) -> str:
    return json.loads((node_modules / "solc" / "package.json").read_text(encoding="utf-8"))["version"]


def compile_test_token(node_modules: Path = NODE_MODULES) -> Artifact:
    """TestToken compiled by npm solcjs, cached by source, compiler version and settings."""
    require_node_modules(node_modules)
    source = TEST_TOKEN_SOURCE.read_text(encoding="utf-8")
    request = {
        "language": "Solidity",
        "sources": {"TestToken.sol": {"content": source}},
        "settings": SOLC_SETTINGS,
    }
    key_material = json.dumps([request, _solc_version(node_modules)], sort_keys=True).encode()
    cache = node_modules / ".cache" / "mmbot-solc" / f"{hashlib.sha256(key_material).hexdigest()}.json"
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        return Artifact("TestToken", data["abi"], data["bytecode"])

    node = shutil.which("node")
    if node is None:
        raise ArtifactsMissing("`node` is not on PATH: solcjs needs Node.js to compile TestToken.sol")
    script = (
        "const solc = require(process.argv[1]);"
        "let input = '';"
        "process.stdin.on('data', c => input += c);"
        "process.stdin.on('end', () => process.stdout.write(solc.compile(input)));"
    )
    proc = subprocess.run(
        [node, "-e", script, str(node_modules / "solc")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"solcjs failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError(
            "TestToken.sol does not compile:\n" + "\n".join(e["formattedMessage"] for e in errors)
        )
    contract = output["contracts"]["TestToken.sol"]["TestToken"]
    artifact = Artifact("TestToken", contract["abi"], "0x" + contract["evm"]["bytecode"]["object"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"abi": artifact.abi, "bytecode": artifact.bytecode}), encoding="utf-8")
    tmp.replace(cache)  # atomic: a concurrent run never reads half a file
    return artifact


if __name__ == "__main__":
    for written_path in export_abis():
        print(written_path.relative_to(REPO_ROOT), file=sys.stdout)
