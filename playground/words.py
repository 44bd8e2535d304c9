"""Words the app writes around numbers."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 drawing", "3 drawings", "1,200 runs": never "1 drawing(s)"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
