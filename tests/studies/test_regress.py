"""The RTL regression summary: rows grouped per preset and mode, counts and ranges as
written here by hand."""

from lutcore.studies.regress import ROW_KEYS, format_table, make_row


def row(preset, seed, cycles, predicted, steps, useful, ok=True):
    return make_row(preset=preset, mode="elut", seed=seed, shape=(1, 2, 3), phases=1,
                    cycles=cycles, predicted=predicted, utilization=steps,
                    useful_utilization=useful, ok=ok)


def test_summary_by_hand():
    rows = [row("default", 1, 100, 100, 0.9, 0.45), row("default", 2, 50, 51, 0.8, 0.4),
            row("decode", 1, 10, 10, 0.5, 0.5, ok=False)]
    assert set(rows[0]) == set(ROW_KEYS)
    table = format_table(rows, {"default": 80.4})
    lines = table.splitlines()
    assert lines[2] == "| decode | elut | 1 | 0 | 1 | 10 | 50.0%..50.0% | 50.0%..50.0% |"
    # two GEMMs, one with cycles = ISS; 150 cycles; steps 80-90 %, useful 40-45 %
    assert lines[3] == "| default | elut | 2 | 1 | 2 | 150 | 80.0%..90.0% | 40.0%..45.0% |"
    assert lines[-1] == "| default | 80 |"
    assert format_table([]) == ""
