"""Loopback fake of the U.S. Treasury Fiscal Data `rates_of_exchange` endpoint."""
