package metricdag.node;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A JVM node's outputs: CSV as metricdag reads it back: UTF-8, a header line, RFC 4180 quoting,
 * an empty field is null.
 */
public final class Csv {
    private Csv() {}

    /** Writes a header, then one line per row; null is written as an empty field. */
    public static final class Writer implements AutoCloseable {
        private final BufferedWriter out;
        private final int width;
        private long rows;

        public Writer(Path path, String... header) throws IOException {
            this.out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
            this.width = header.length;
            line((Object[]) header);
        }

        /** One row: a value per header column, written with {@code String.valueOf}; null is empty. */
        public void row(Object... values) throws IOException {
            line(values);
            rows++;
        }

        /** How many rows were written (the header is not one). */
        public long rows() {
            return rows;
        }

        private void line(Object... values) throws IOException {
            if (values.length != width) {
                throw new IllegalArgumentException("row has " + values.length + " fields, header has " + width);
            }
            if (values.length == 1 && values[0] == null) {
                out.write("\"\"\n"); // a null alone on its line: not a blank line, which readers skip
                return;
            }
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < values.length; i++) {
                if (i > 0) {
                    line.append(',');
                }
                line.append(quote(values[i] == null ? null : String.valueOf(values[i])));
            }
            out.write(line.append('\n').toString());
        }

        public static String quote(String s) {
            if (s == null) {
                return "";
            }
            if (s.isEmpty() || s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
                return '"' + s.replace("\"", "\"\"") + '"';
            }
            return s;
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
