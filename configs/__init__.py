"""One `get_config(arg)` per task (configs/<task>.py), the fields every run has (common.py, data.py) and the name lists."""
