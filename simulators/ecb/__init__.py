"""Loopback fake of the ECB's euro reference rate files (daily, 90-day, full history)."""
