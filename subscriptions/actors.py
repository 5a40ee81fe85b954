from dataclasses import dataclass

from subscriptions.enums import Channel


@dataclass(frozen=True)
class Actor:
    """Who made a change and through which channel; recorded on every ledger row."""

    channel: str
    user: object | None = None
    label: str = ""

    @classmethod
    def customer(cls, channel: str = Channel.WEB) -> "Actor":
        return cls(channel=channel, label="customer")

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(channel=Channel.SYSTEM, label=label)

    @classmethod
    def staff(cls, user, channel: str = Channel.ADMIN) -> "Actor":
        return cls(channel=channel, user=user, label=user.get_username())

    @classmethod
    def api(cls, label: str) -> "Actor":
        return cls(channel=Channel.API, label=label)
