from lingotune.cli.app import app

app()
