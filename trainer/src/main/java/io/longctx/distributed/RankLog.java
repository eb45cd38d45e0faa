package io.longctx.distributed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.function.Consumer;

/**
 * The log of a rank: every rank appends to logs/rank-R.log in the run folder; rank 0 also prints (its progress is
 * the job's). A single process keeps printing only.
 */
public final class RankLog {
    private RankLog() {
    }

    public static Consumer<String> of(Path runDir, WorldInfo world, Consumer<String> console) {
        if (!world.distributed()) {
            return console;
        }
        Path file = runDir.resolve("logs").resolve(String.format("rank-%d.log", world.rank()));
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new io.longctx.LongctxException(file.getParent() + ": cannot create the rank logs ("
                    + e.getMessage() + ")");
        }
        return line -> {
            if (world.isMain()) {
                console.accept(line);
            }
            try {
                Files.writeString(file, LocalTime.now().truncatedTo(ChronoUnit.MILLIS) + " " + line + "\n",
                        StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                // a full disk must not stop training; the console (rank 0) still has the line
            }
        };
    }
}
