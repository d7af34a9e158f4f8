import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CSV that metricdag exchanges with JVM nodes: UTF-8, a header line, RFC 4180 quoting,
 * an empty field (quoted or not) is null.
 */
final class Csv {
    private Csv() {}

    /**
     * Reads one record at a time; columns are looked up by header name.
     *
     * Reads the file's bytes through its own buffer (the delimiters are ASCII, which UTF-8 never
     * uses inside a multi-byte character): an unquoted field that lies inside the buffer is decoded
     * straight from it, everything else (quotes, carriage returns, a field across two buffer fills)
     * takes the general path one byte at a time.
     */
    static final class Reader implements AutoCloseable {
        private static final int BUFFER_BYTES = 1 << 16;

        private final Path path;
        private final InputStream in;
        private final byte[] buf = new byte[BUFFER_BYTES];
        private int pos;
        private int len;
        private boolean recordEnded; // the last field read ended its record (a line end or the end of the file)
        private final ByteArrayOutputStream field = new ByteArrayOutputStream();
        private final Map<String, Integer> columns = new LinkedHashMap<>();
        private int width = 16;
        private long record;

        Reader(Path path) throws IOException {
            this.path = path;
            this.in = Files.newInputStream(path);
            List<String> header = next();
            if (header == null) {
                throw new IOException(path + ": no header line");
            }
            for (int i = 0; i < header.size(); i++) {
                columns.put(header.get(i), i);
            }
            width = header.size();
            record = 0;
        }

        /** Index of a column; fails naming the file and the columns it has. */
        int column(String name) {
            Integer index = columns.get(name);
            if (index == null) {
                throw new IllegalArgumentException(path + ": no column '" + name + "' (columns: " + columns.keySet() + ")");
            }
            return index;
        }

        /** 1-based number of the last record returned (the header is record 0). */
        long record() {
            return record;
        }

        String where() {
            return path.getFileName() + " record " + record;
        }

        /** The next record, or null at the end of the file. */
        List<String> next() throws IOException {
            while (true) {
                if (pos == len && !refill()) {
                    return null;
                }
                List<String> fields = new ArrayList<>(width);
                do {
                    fields.add(nextField());
                } while (!recordEnded);
                record++;
                if (!(fields.size() == 1 && fields.get(0) == null)) {
                    return fields; // a blank line is not a record
                }
            }
        }

        private boolean refill() throws IOException {
            int n;
            do {
                n = in.read(buf, 0, buf.length);
            } while (n == 0);
            pos = 0;
            len = Math.max(n, 0);
            return n > 0;
        }

        private int read() throws IOException {
            if (pos == len && !refill()) {
                return -1;
            }
            return buf[pos++] & 0xff;
        }

        private String nextField() throws IOException {
            if (pos < len && buf[pos] != '"') { // an unquoted field inside the buffer: no copy but the String's
                int start = pos;
                for (int i = start; i < len; i++) {
                    byte c = buf[i];
                    if (c == ',' || c == '\n') {
                        pos = i + 1;
                        recordEnded = c == '\n';
                        return i == start ? null : new String(buf, start, i - start, StandardCharsets.UTF_8);
                    }
                    if (c == '\r' || c == '"') {
                        break;
                    }
                }
            }
            return generalField();
        }

        private String generalField() throws IOException {
            field.reset();
            boolean inQuotes = false;
            boolean quoted = false;
            int c = read();
            while (true) {
                if (inQuotes) {
                    if (c == -1) {
                        throw new IOException(path + ": unterminated quoted field in record " + (record + 1));
                    }
                    if (c == '"') {
                        int next = read();
                        if (next != '"') {
                            inQuotes = false;
                            c = next;
                            continue;
                        }
                    }
                    field.write(c);
                } else if (c == '"' && field.size() == 0 && !quoted) {
                    inQuotes = true;
                    quoted = true;
                } else if (c == ',') {
                    recordEnded = false;
                    return value(field);
                } else if (c == '\n' || c == -1) {
                    recordEnded = true;
                    return value(field);
                } else if (c != '\r') {
                    field.write(c);
                }
                c = read();
            }
        }

        private static String value(ByteArrayOutputStream field) {
            return field.size() == 0 ? null : field.toString(StandardCharsets.UTF_8); // empty, quoted or not, is null
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** Writes a header, then one line per row; null is written as an empty field. */
    static final class Writer implements AutoCloseable {
        private final BufferedWriter out;
        private final int width;

        Writer(Path path, String... header) throws IOException {
            this.out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
            this.width = header.length;
            row((Object[]) header);
        }

        void row(Object... values) throws IOException {
            if (values.length != width) {
                throw new IllegalArgumentException("row has " + values.length + " fields, header has " + width);
            }
            StringBuilder line = new StringBuilder();
            if (values.length == 1 && values[0] == null) {
                out.write("\"\"\n"); // a null alone on its line: not a blank line, which readers skip
                return;
            }
            for (int i = 0; i < values.length; i++) {
                if (i > 0) {
                    line.append(',');
                }
                line.append(quote(values[i] == null ? null : String.valueOf(values[i])));
            }
            out.write(line.append('\n').toString());
        }

        static String quote(String s) {
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
