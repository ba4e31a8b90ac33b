"""The workspace's benchmark, `inv bench` (bench.py, over stack.py, load.py and report.py), and the
settings of the alternative app it measures ours against (whitenoise_settings.py, copied into the
bench image)."""
