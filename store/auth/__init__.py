"""Sign-in for local users: password hashing, failed-attempt throttling, session tokens."""
