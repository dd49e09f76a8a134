"""One CSV download for every app: a byte order mark, formulas defused, rows in batches."""

import csv
import io

from apps.core.csv_export import BATCH, csv_download, csv_lines


def test_bom_header_formulas_and_numbers():
    chunks = list(csv_lines(["name", "n"], [["=SUM(A1)", 3], ["-1", -1], ["名字", 0]]))
    assert len(chunks) == 1
    text = chunks[0]
    assert text.startswith("\ufeffname,n\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [["name", "n"], ["'=SUM(A1)", "3"], ["'-1", "-1"], ["名字", "0"]]


def test_rows_leave_in_batches_the_first_with_the_header():
    count = BATCH * 2 + 7
    chunks = list(csv_lines(["i"], ([i] for i in range(count))))
    assert [chunk.count("\r\n") for chunk in chunks] == [BATCH, BATCH, 8]
    assert chunks[0].startswith("\ufeffi\r\n0\r\n")
    assert "".join(chunks).count("\r\n") == count + 1


def test_a_streamed_attachment():
    response = csv_download("x.csv", ["a"], [[1]])
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert b"".join(response.streaming_content).decode("utf-8-sig") == "a\r\n1\r\n"
