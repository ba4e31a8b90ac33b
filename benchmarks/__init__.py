"""The workspace's benchmark, `inv bench` (bench.py), and the settings of the alternative app it measures
ours against (whitenoise_settings.py, copied into the bench image)."""
