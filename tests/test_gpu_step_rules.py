"""The fused GPU step's two size rules (kernels/gpu_step.py), which need no GPU to check.

``fill_rows`` picks the rows per tile so that a batch makes at least as many tiles (one
block each) as the GPU has SMs; ``reduce_lanes`` picks how many threads sum each
parameter's partial gradients over those tiles. docs/gpu.md reasons both from the
kernels' arithmetic; the device bench sweeps them.
"""

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install -e '.[test]' installs it)")

from fastnet.kernel_modules import kernel_module  # noqa: E402

step = kernel_module("gpu_step")


@pytest.mark.parametrize("batch,multiprocessors,rows", [
    (1078, 132, 8),  # digits on an H100 or H200: 135 tiles, where 32 rows would make 34
    (1078, 66, 16),  # 68 tiles of 16 are enough for 66 SMs
    (1078, 34, 32),  # 34 tiles of 32 already fill 34 SMs
    (60000, 132, 32),  # a large batch fills the device at the most rows
    (64, 132, 8),  # a mini-batch cannot fill it: no fewer than FILL_MIN_ROWS all the same
    (1, 1, 32),
])
def test_the_rows_per_tile_are_halved_until_the_tiles_fill_the_sms(batch, multiprocessors, rows):
    assert step.fill_rows(batch, multiprocessors) == rows
    assert -(-batch // rows) >= multiprocessors or rows == step.FILL_MIN_ROWS


def test_shared_memory_still_halves_the_rows_the_fill_rule_picks():
    wide = step.Layout((2000, 2000, 10))  # 4010 activations and 2010 deltas a row: not even 4 rows fit in 48 KiB
    assert step.fill_rows(60000, 132) == 32
    assert wide.tile_rows(4, step.fill_rows(60000, 132)) == 0  # below MIN_TILE_ROWS: the layered step trains it
    assert step.Layout((64, 30, 10)).tile_rows(8, step.fill_rows(1078, 132)) == 8


@pytest.mark.parametrize("tiles,threads,lanes", [
    (1, 128, 1),
    (16, 128, 1),  # 16 tiles a thread: LANE_TILES, not yet split
    (17, 128, 2),  # 9 and 8 a lane
    (34, 128, 4),  # digits in tiles of 32 rows: 9, 9, 8 and 8
    (135, 128, 4),  # digits in tiles of 8 rows: 34 a lane, MAX_LANES at most
    (135, 2, 2),  # a block of 2 threads holds 2 lanes at most
])
def test_the_lanes_double_while_a_lane_would_sum_more_than_lane_tiles(tiles, threads, lanes):
    assert step.reduce_lanes(tiles, threads) == lanes


@pytest.mark.parametrize("n_params,columns", [
    (2270, 2272),  # digits' 64-30-10: 2,270 parameters and the cost in 71 warps of columns
    (31, 32),  # 31 parameters and the cost: exactly one warp
    (32, 64),  # one column more starts a second warp
    (1, 32),
])
def test_a_tiles_row_of_partials_is_padded_to_whole_warps(n_params, columns):
    assert step.partials_columns(n_params) == columns
