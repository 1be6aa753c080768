"""bench/command.sh's program: reads the transactions artifact with the hmpipe package (all five
columns into numpy) and either notes its seconds or writes the table back (the round trip)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import hmpipe  # noqa: E402

mode, source, target = sys.argv[1:4]
start = time.perf_counter()
artifact = hmpipe.open_artifact(source)
columns = {name: artifact.raw_column(name)["values"] for name in artifact.columns}
read = time.perf_counter() - start
if mode == "read":
    with open(target, "w") as f:
        f.write(f"{artifact.rows}\n")
    print(f"python read {artifact.rows} rows x {len(columns)} columns in {read:.3f} s")
else:
    hmpipe.write_table(target, columns, metadata=artifact.metadata, level=1)
    print(f"python read {artifact.rows} rows in {read:.3f} s, wrote them back in {time.perf_counter() - start - read:.3f} s")
