"""Page components; routes and on_load handlers are wired in llmobserve_app.py."""
