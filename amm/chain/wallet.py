"""The wallet's signing key: read from an environment variable, used for local signing only.

The key lives in one private attribute; repr, str and error messages show the address and the
variable's name, never the key, and the object refuses to be pickled or copied into a log record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount


class WalletKeyError(ValueError):
    pass


class Signer:
    __slots__ = ("_account", "key_env")

    def __init__(self, account: LocalAccount, key_env: str = "") -> None:
        self._account = account
        self.key_env = key_env

    @classmethod
    def from_env(cls, key_env: str, environ: Mapping[str, str] | None = None) -> Signer:
        environ = os.environ if environ is None else environ
        raw = environ.get(key_env, "").strip()
        if not raw:
            raise WalletKeyError(f"environment variable {key_env} (wallet_key_env) is not set or empty")
        try:
            account = Account.from_key(raw)
        except Exception:
            # `from None`: the original exception may quote the value
            raise WalletKeyError(
                f"environment variable {key_env} does not hold a valid private key (32 bytes, hex)"
            ) from None
        return cls(account, key_env)

    @property
    def address(self) -> str:
        return self._account.address

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def __repr__(self) -> str:
        source = f", key from ${self.key_env}" if self.key_env else ""
        return f"Signer({self.address}{source})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Signer holds a private key and is never pickled")
