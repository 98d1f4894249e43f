"""The platform fee and its rounding rule.

Rule (also shown on the public fee page): the fee is ``gross × rate`` rounded DOWN to a
whole minor unit, and the creator receives ``net = gross − fee``. Rounding down means
any fraction of a minor unit goes to the creator, never to the platform, and
``fee + net == gross`` always holds, so no money appears or disappears in rounding.
The rate is ``COMMERCE_PLATFORM_FEE_BPS`` basis points (1000 = 10%).
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class FeeSplit:
    gross: int
    fee: int
    net: int


def fee_rate_bps() -> int:
    return int(settings.COMMERCE_PLATFORM_FEE_BPS)


def split_fee(gross: int, *, rate_bps: int | None = None) -> FeeSplit:
    rate = fee_rate_bps() if rate_bps is None else rate_bps
    if not 0 <= rate <= 10_000:
        raise ValueError("fee rate must be between 0 and 10000 basis points")
    fee = gross * rate // 10_000  # integer floor: never a float, never rounds up
    return FeeSplit(gross=gross, fee=fee, net=gross - fee)
