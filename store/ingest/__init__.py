"""Reading and checking a bundle, and loading it into the store."""
