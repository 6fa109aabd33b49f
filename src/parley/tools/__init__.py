"""Tools Parley runs itself (server-side), one module each."""
