"""The user's document library: import, index and retrieve past documents locally."""
