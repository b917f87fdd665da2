"""The one floor that reads the store and runs analytics; shared by ui/, cli.py and bench/."""
