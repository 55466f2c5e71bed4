"""Run directories written by earlier versions resume: their checkpoints are migrated when
read (:meth:`jobs.run.state.TrainingState.from_arrays`), and training goes on as the code that
wrote them would have."""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import TINY, float_kernels, load_run_state, train_cli, write_text_data
from jobs.cli import EXIT_OK
from jobs.run.state import FORMAT, RunSettings
from rnn_core.serialization import save_arrays

# One epoch of `train --epochs 1 *TINY` on write_text_data's dataset, by the code of commit
# 9d639f7 (checkpoint format 1); that code's θ after `--epochs 2`, as SHA-256 of its bytes,
# on numpy 2.4 (2.5 gives the same bits, 2.0 and 2.2 others, to both codes: their float
# kernels differ), per the CPU's vector instructions (helpers.float_kernels: numpy and
# OpenBLAS pick their kernels by them): an Intel Xeon with AVX-512 and an AMD EPYC with AVX2
FORMAT1_RUN = Path(__file__).parent / "data" / "format1-run"
FORMAT1_EPOCH2_THETA = {
    "avx512f": "90b4be3581d2c90e94344db51f76a4d5c8d326c00132389ec8ead20c7f437748",
    "avx2": "fb92d8cead57b4d789e93b5e9285a17ffae160c2528713082df08be075387e64",
}
FORMAT1_NUMPY = (2, 4)


def test_a_format_1_checkpoint_reads_as_complete_typed_settings():
    state = load_run_state(FORMAT1_RUN, "ckpt-000001.npz")
    assert isinstance(state.settings, RunSettings)
    assert (state.settings.mode, state.settings.batch, state.settings.outer_momentum,
            state.settings.syncs_per_epoch) == ("average", 4, "auto", 1)
    assert state.outer_state["delta"].shape == state.theta.shape


def test_a_run_in_checkpoint_format_1_resumes_as_the_same_state_in_todays_format(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(FORMAT1_RUN, old)
    new.mkdir()
    save_arrays(new / "latest.npz", load_run_state(old, "ckpt-000001.npz").to_arrays())
    for run in (old, new):
        assert train_cli("--data", data, "--run", run, "--epochs", "2", *TINY) == EXIT_OK
    assert load_run_state(old).theta.tobytes() == load_run_state(new).theta.tobytes()


@pytest.mark.skipif(tuple(map(int, np.__version__.split(".")[:2])) < FORMAT1_NUMPY,
                    reason="the reference θ is of the float kernels of numpy 2.4 and later")
def test_a_run_in_checkpoint_format_1_resumes_bit_identical_to_the_code_that_wrote_it(tmp_path):
    if float_kernels() not in FORMAT1_EPOCH2_THETA:
        pytest.skip("the reference θ is recorded for x86 CPUs with AVX2 or AVX-512 only")
    data, _ = write_text_data(tmp_path / "data")
    run = tmp_path / "run"
    shutil.copytree(FORMAT1_RUN, run)
    assert train_cli("--data", data, "--run", run, "--epochs", "2", *TINY) == EXIT_OK
    state = load_run_state(run)
    assert state.epoch == 2
    assert hashlib.sha256(state.theta.tobytes()).hexdigest() == FORMAT1_EPOCH2_THETA[float_kernels()]
    with np.load(run / "latest.npz") as npz:
        assert str(npz["format"]) == FORMAT  # written in today's format


def test_settings_missing_from_an_old_checkpoint_take_the_meaning_they_had():
    assert RunSettings.from_dict({"mode": "average", "batch": 4, "bptt": 0, "seed": 0}) == \
        RunSettings(mode="average", batch=4, outer_momentum=0.0, outer_lr=1.0,
                    outer_nesterov=False, inner_state="mean", syncs_per_epoch=1)
