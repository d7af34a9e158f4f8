import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
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

    /** Reads one record at a time; columns are looked up by header name. */
    static final class Reader implements AutoCloseable {
        private final Path path;
        private final BufferedReader in;
        private final Map<String, Integer> columns = new LinkedHashMap<>();
        private long record;

        Reader(Path path) throws IOException {
            this.path = path;
            this.in = Files.newBufferedReader(path, StandardCharsets.UTF_8);
            List<String> header = next();
            if (header == null) {
                throw new IOException(path + ": no header line");
            }
            for (int i = 0; i < header.size(); i++) {
                columns.put(header.get(i), i);
            }
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
                int c = in.read();
                if (c == -1) {
                    return null;
                }
                List<String> fields = parse(c);
                record++;
                if (!(fields.size() == 1 && fields.get(0) == null)) {
                    return fields; // a blank line is not a record
                }
            }
        }

        private List<String> parse(int c) throws IOException {
            List<String> fields = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean inQuotes = false;
            boolean quoted = false;
            while (true) {
                if (inQuotes) {
                    if (c == -1) {
                        throw new IOException(path + ": unterminated quoted field in record " + (record + 1));
                    }
                    if (c == '"') {
                        int next = in.read();
                        if (next != '"') {
                            inQuotes = false;
                            c = next;
                            continue;
                        }
                    }
                    field.append((char) c);
                } else if (c == '"' && field.length() == 0 && !quoted) {
                    inQuotes = true;
                    quoted = true;
                } else if (c == ',') {
                    fields.add(value(field));
                    field.setLength(0);
                    quoted = false;
                } else if (c == '\n' || c == -1) {
                    fields.add(value(field));
                    return fields;
                } else if (c != '\r') {
                    field.append((char) c);
                }
                c = in.read();
            }
        }

        private static String value(StringBuilder field) {
            return field.length() == 0 ? null : field.toString(); // empty, quoted or not, is null
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
