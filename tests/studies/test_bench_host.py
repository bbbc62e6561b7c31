"""The host benchmark runs end to end on a small shape and prints its tables."""

from lutcore.studies import bench_host as host


def test_bench_smoke(capsys):
    assert host.main(["--m", "1,3", "--shapes", "80x24", "--repeats", "1",
                      "--min-seconds", "0"]) == 0
    out, err = capsys.readouterr()
    rows = [line for line in out.splitlines() if line.startswith("| 80x24 |")]
    assert len(rows) == 3                       # two timing rows (M = 1, 3) and one bytes row
    # 80 x 24 weights: float32 7680 B, int8 1920 B, ELUT 24 * 16 B, bit-serial 2 * 24 * 10 B
    assert rows[2].split("|")[2:6] == [" 7.5 KiB ", " 1.9 KiB ", " 384 B ", " 480 B "]
    assert rows[2].split("|")[6:8] == [" 20.0x ", " 16.0x "]
    assert "[2/2] K x N = 80x24, M = 3" in err
