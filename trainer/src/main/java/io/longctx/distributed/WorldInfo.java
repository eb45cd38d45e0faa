package io.longctx.distributed;

import io.longctx.LongctxException;
import java.util.Map;

/**
 * Where this process stands among the ranks of a job, from the variables its launcher set: torchrun's (RANK,
 * WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), else Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the
 * first host of SLURM_JOB_NODELIST, MASTER_PORT or 29500), else a single process.
 */
public record WorldInfo(int rank, int worldSize, int localRank, String masterAddr, int masterPort) {
    public static final int DEFAULT_PORT = 29500;
    public static final WorldInfo SINGLE = new WorldInfo(0, 1, 0, "127.0.0.1", DEFAULT_PORT);

    public WorldInfo {
        if (worldSize < 1 || rank < 0 || rank >= worldSize || localRank < 0) {
            throw new LongctxException("rank " + rank + " of world size " + worldSize + " (local rank " + localRank
                    + ") is not a valid place in a job");
        }
    }

    public boolean distributed() {
        return worldSize > 1;
    }

    public boolean isMain() {
        return rank == 0;
    }

    public static WorldInfo fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    public static WorldInfo fromEnvironment(Map<String, String> env) {
        if (env.containsKey("WORLD_SIZE") || env.containsKey("RANK")) {
            int world = integer(env, "WORLD_SIZE", 1);
            int rank = integer(env, "RANK", 0);
            return new WorldInfo(rank, world, integer(env, "LOCAL_RANK", rank),
                    env.getOrDefault("MASTER_ADDR", "127.0.0.1"), port(env));
        }
        if (env.containsKey("SLURM_NTASKS") && env.containsKey("SLURM_PROCID")) {
            int world = integer(env, "SLURM_NTASKS", 1);
            int rank = integer(env, "SLURM_PROCID", 0);
            String master = env.containsKey("MASTER_ADDR") ? env.get("MASTER_ADDR")
                    : firstHost(env.getOrDefault("SLURM_JOB_NODELIST", env.getOrDefault("SLURM_NODELIST", "")));
            return new WorldInfo(rank, world, integer(env, "SLURM_LOCALID", 0), master.isEmpty() ? "127.0.0.1"
                    : master, port(env));
        }
        return SINGLE;
    }

    /** The first host of a Slurm node list: "gpu[003-005,9],cpu1" gives gpu003; "a,b" gives a. */
    public static String firstHost(String nodeList) {
        String list = nodeList.trim();
        int comma = list.indexOf(',');
        int bracket = list.indexOf('[');
        if (bracket < 0 || (comma >= 0 && comma < bracket)) {
            return comma < 0 ? list : list.substring(0, comma);
        }
        String prefix = list.substring(0, bracket);
        int end = list.indexOf(']', bracket);
        String ranges = list.substring(bracket + 1, end < 0 ? list.length() : end);
        String first = ranges.split(",")[0].split("-")[0];
        return prefix + first;
    }

    private static int port(Map<String, String> env) {
        int port = integer(env, "MASTER_PORT", DEFAULT_PORT);
        if (port < 1 || port > 65535) {
            throw new LongctxException("MASTER_PORT: must be a TCP port (1-65535), got " + port);
        }
        return port;
    }

    private static int integer(Map<String, String> env, String name, int fallback) {
        String text = env.get(name);
        if (text == null || text.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new LongctxException(name + ": must be an integer, got '" + text + "'");
        }
    }
}
