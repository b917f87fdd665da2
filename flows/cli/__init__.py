"""Command-line handlers grouped by journey, registered by ``cli.py`` (which stays the entry
point, its shared options and the older commands) so no module outgrows the house's size."""
