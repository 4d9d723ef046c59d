"""Developer tools for maintaining the bundled price data (never imported by the app)."""
