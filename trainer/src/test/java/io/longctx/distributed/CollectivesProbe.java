package io.longctx.distributed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** A rank that runs each collective once on known inputs and writes what it got (one line per collective). */
public final class CollectivesProbe {
    public static void main(String[] args) throws Exception {
        WorldInfo world = WorldInfo.fromEnvironment();
        int r = world.rank();
        StringBuilder out = new StringBuilder();
        try (ProcessGroup group = ProcessGroup.join(world, 30, -1); NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {r + 1, 10 * (r + 1), 100});
            NDArray b = m.create(new float[][] {{r, r}, {1, 2}});
            group.allReduceSum(List.of(a, b), 8);                   // two buckets
            out.append(Arrays.toString(a.toFloatArray())).append(Arrays.toString(b.toFloatArray())).append('\n');
            NDArray c = m.create(new float[] {r, -r});
            group.allReduceMax(List.of(c));
            out.append(Arrays.toString(c.toFloatArray())).append('\n');
            NDArray x = m.create(new float[] {1 + r, 2 + r, 3 + r});
            NDArray shard = group.reduceScatterFlat(List.of(x), 2, 1, m);  // padded to 4: shards of 2, windows of 1
            out.append(Arrays.toString(shard.toFloatArray())).append('\n');
            NDArray target = m.zeros(new ai.djl.ndarray.types.Shape(3));
            NDArray mine = m.create(new float[] {10 * r + 1, 10 * r + 2});
            group.allGatherFlat(mine, List.of(target), mine, 1);
            out.append(Arrays.toString(target.toFloatArray())).append('\n');
            NDArray received = m.zeros(new ai.djl.ndarray.types.Shape(3));                  // rank 1 only sends
            group.allGatherFlat(mine, r == 0 ? List.of(received) : List.of(), mine, 2);
            out.append(Arrays.toString(received.toFloatArray())).append('\n');
            out.append(Arrays.toString(group.broadcast(1, r, 7 * r))).append('\n');
            out.append(group.any(r == 1)).append(' ').append(Arrays.toString(group.sum(r, 1.5))).append('\n');
            group.barrier();
        }
        Files.writeString(Path.of(args[0]).resolve("probe-" + r + ".txt"), out);
    }
}
