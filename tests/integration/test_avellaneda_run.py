"""Avellaneda-Stoikov on the mock venue, simulated clock: a long inventory mean-reverts to flat."""

from decimal import Decimal

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from tests.kit import small_config_dict


def run_avellaneda(tmp_path, gamma: float, seconds: float) -> tuple[Decimal, Decimal]:
    data = small_config_dict(f"sqlite:///{tmp_path}/as-{gamma}.sqlite", venues=("va",))
    data["markets"] = [
        {"venue": "va", "symbol": "ETH/USDT", "order_size": "0.2", "max_position": "2", "target_base": "8.5"}
    ]  # balance 10 ETH: the bot starts 1.5 ETH long
    data["strategies"] = {
        "as": {
            "kind": "avellaneda",
            "markets": ["va:ETH/USDT"],
            "gamma": gamma,
            "horizon_s": 60,
            "n_levels": 1,
            "min_requote_interval_ms": 250,
            "refresh_tolerance_bps": 0.5,
            "volatility": {"fallback_annual_vol": 0.8},
            "intensity": {"fallback_kappa_per_bps": 0.5},
        }
    }
    config = validate_config(data)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.run(duration_s=seconds)
        eth = (await venue.fetch_balances())["ETH"].total
        await venue.close()
        return eth

    eth_after = run_simulated(main)
    store = Store(config.bot.database_url, config.bot.instance_id)
    # Time-weighted mean |inventory| from the stored fills, starting 1.5 ETH long.
    start_ns = int(config.bot.sim_start.timestamp() * 1e9)
    position, last_ns, weighted = Decimal("1.5"), start_ns, Decimal(0)
    for f in store.fills("va"):
        weighted += abs(position) * (f.exchange_ts_ns - last_ns)
        position += Decimal(f.size) * (1 if f.side == "buy" else -1)
        last_ns = f.exchange_ts_ns
    weighted += abs(position) * (start_ns + int(seconds * 1e9) - last_ns)
    assert position == eth_after - Decimal("8.5")  # the fills explain the venue balance exactly
    return position, weighted / Decimal(int(seconds * 1e9))


def test_long_inventory_mean_reverts_toward_zero(tmp_path):
    position, mean_abs = run_avellaneda(tmp_path, gamma=0.1, seconds=600)
    assert abs(position) <= Decimal("0.6"), position  # started at +1.5 ETH
    # Without risk aversion the inventory random-walks instead: same seed, no skew, far larger
    # average exposure. The skew term q*gamma*sigma^2*tau is what pulls it back.
    _, lazy_mean_abs = run_avellaneda(tmp_path, gamma=0.0001, seconds=600)
    assert mean_abs < Decimal("0.6") * lazy_mean_abs, (mean_abs, lazy_mean_abs)
