"""The ListOps `:cpu,variant=long` preset: long expressions at length 512, and a one-line error for a bad variant."""

import pytest

from configs import listops
from lra.errors import ConfigError


def test_long_variant_changes_the_data_and_epochs_of_the_cpu_preset():
  cpu, long = listops.get_config("cpu"), listops.get_config("cpu,variant=long")
  assert (long.data.max_length, long.data.listops.min_tokens, long.data.listops.max_tokens) == (512, 300, 512)
  assert long.data.listops.max_depth == 10 and long.train.epochs == 8
  assert long.model.to_dict() == cpu.model.to_dict() and long.optim.to_dict() == cpu.optim.to_dict()


@pytest.mark.parametrize("arg", ["cpu,variant=short", "paper,variant=long"])
def test_a_bad_variant_is_a_one_line_error(arg):
  with pytest.raises(ConfigError, match=r"^config arg variant='\w+': valid: \['long'\], with preset=cpu \(got preset="):
    listops.get_config(arg)
