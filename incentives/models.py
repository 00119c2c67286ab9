"""Models of this app arrive with their issue; the app is registered so its layer exists."""
