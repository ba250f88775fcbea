"""The wandb API key this machine has, looked up once for every caller (the run's logger, the table's reader).

    from lra import wandb_auth
    wandb_auth.api_key()   # $WANDB_API_KEY, else the `wandb login` entry in ~/.netrc for $WANDB_BASE_URL's host

No network call and no wandb import: only the environment and the netrc file are read.
"""

import netrc
import os

DEFAULT_BASE_URL = "https://api.wandb.ai"


def api_key() -> str | None:
  """$WANDB_API_KEY if set and not empty, else the password of ~/.netrc's entry for the wandb host; else None."""
  key = os.environ.get("WANDB_API_KEY")
  if key:
    return key
  host = (os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL).split("://")[-1].rstrip("/")
  try:
    auth = netrc.netrc().authenticators(host)
  except (FileNotFoundError, netrc.NetrcParseError, OSError):
    return None
  return auth[2] if auth and auth[2] else None
