package metricdag.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One input of a JVM node: the columnar file metricdag writes (see the README, "JVM nodes"),
 * memory-mapped. Columns are looked up by name; values are read by row index, nothing is
 * decoded until asked for (a string column holds int codes into its dictionary).
 */
public final class Table {
    private static final byte[] MAGIC = "MDCOLS1\n".getBytes(StandardCharsets.US_ASCII);

    private final Path path;
    private final int rows;
    private final Map<String, Column> columns = new LinkedHashMap<>();

    private Table(Path path, int rows) {
        this.path = path;
        this.rows = rows;
    }

    /** Maps the file at {@code path}; an IOException names the file when it is not in the format. */
    @SuppressWarnings("unchecked")
    public static Table read(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            while (head.hasRemaining() && channel.read(head) >= 0) { }
            byte[] magic = new byte[MAGIC.length];
            head.flip();
            if (head.remaining() < 16) {
                throw new IOException(path + ": not a metricdag columnar file (too short)");
            }
            head.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new IOException(path + ": not a metricdag columnar file (no MDCOLS1 header)");
            }
            long headerLength = head.getLong();
            ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
            channel.position(16);
            while (headerBytes.hasRemaining() && channel.read(headerBytes) >= 0) { }
            Map<String, Object> header = (Map<String, Object>) Json.parse(new String(headerBytes.array(), StandardCharsets.UTF_8));
            long base = 16 + headerLength;
            Table table = new Table(path, ((Number) header.get("rows")).intValue());
            for (Object item : (List<Object>) header.get("columns")) {
                Map<String, Object> spec = (Map<String, Object>) item;
                Column column = new Column(table, (String) spec.get("name"), (String) spec.get("type"),
                        map(channel, base, spec.get("values")), map(channel, base, spec.get("valid")));
                if (spec.get("data") != null) {
                    column.data = map(channel, base, spec.get("data"));
                }
                table.columns.put(column.name, column);
            }
            return table;
        }
    }

    @SuppressWarnings("unchecked")
    private static ByteBuffer map(FileChannel channel, long base, Object range) throws IOException {
        if (range == null) {
            return null;
        }
        List<Object> r = (List<Object>) range;
        long offset = ((Number) r.get(0)).longValue();
        long length = ((Number) r.get(1)).longValue();
        return channel.map(FileChannel.MapMode.READ_ONLY, base + offset, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    public int rows() {
        return rows;
    }

    public List<String> columnNames() {
        return new ArrayList<>(columns.keySet());
    }

    /** A column by name; fails naming the file and the columns it has. */
    public Column column(String name) {
        Column column = columns.get(name);
        if (column == null) {
            throw new IllegalArgumentException(path.getFileName() + ": no column '" + name + "' (columns: " + columns.keySet() + ")");
        }
        return column;
    }

    /** The file name and a row, for messages ({@code row} 0-based, shown 1-based). */
    public String where(int row) {
        return path.getFileName() + " row " + (row + 1);
    }

    private static final List<String> KINDS = java.util.Arrays.asList("int64", "float64", "bool", "date", "timestamp", "string");
    private static final int INT64 = 0, FLOAT64 = 1, BOOL = 2, DATE = 3, TIMESTAMP = 4, STRING = 5;

    /**
     * One column: {@code type} is int64, float64, bool, date, timestamp or string. A string column
     * gets a dictionary the first time a {@link #code} is asked for (equal strings, equal codes).
     */
    public static final class Column {
        private final Table table;
        public final String name;
        public final String type;
        private final ByteBuffer values;
        private final ByteBuffer valid;
        private final int kind; // index in KINDS: no string comparison per value
        private ByteBuffer data; // a string column's UTF-8 bytes; values holds rows + 1 int32 offsets into it
        private byte[] bytes;
        private int[] codes;
        private int[] firstRow; // code -> a row holding that string
        private String[] decoded;

        Column(Table table, String name, String type, ByteBuffer values, ByteBuffer valid) {
            this.table = table;
            this.name = name;
            this.type = type;
            this.values = values;
            this.valid = valid;
            this.kind = KINDS.indexOf(type);
            if (kind < 0) {
                throw new IllegalArgumentException(table.path.getFileName() + ": column '" + name + "' has unknown type " + type);
            }
        }

        private void buildDictionary() {
            if (kind != STRING) {
                throw wrongType("string");
            }
            int rows = table.rows;
            bytes = new byte[data.capacity()];
            data.duplicate().get(bytes);
            int[] offsets = new int[rows + 1];
            values.duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(offsets);
            codes = new int[rows];
            int slots = Integer.highestOneBit(Math.max(2 * rows, 2)) << 1;
            int shift = 32 - Integer.numberOfTrailingZeros(slots);
            int[] table = new int[slots]; // code + 1, 0 for an empty slot
            int[] first = new int[Math.max(rows, 1)];
            int size = 0;
            for (int row = 0; row < rows; row++) {
                int start = offsets[row];
                int end = offsets[row + 1];
                int h = 1;
                for (int i = start; i < end; i++) {
                    h = 31 * h + bytes[i];
                }
                int slot = (h * 0x9E3779B9) >>> shift; // Fibonacci hashing: similar strings land far apart
                while (true) {
                    int entry = table[slot];
                    if (entry == 0) {
                        table[slot] = size + 1;
                        first[size] = row;
                        codes[row] = size++;
                        break;
                    }
                    int other = first[entry - 1];
                    if (java.util.Arrays.equals(bytes, start, end, bytes, offsets[other], offsets[other + 1])) {
                        codes[row] = entry - 1;
                        break;
                    }
                    slot = (slot + 1) & (slots - 1);
                }
            }
            firstRow = java.util.Arrays.copyOf(first, size);
            decoded = new String[size];
        }

        public boolean isNull(int row) {
            return valid != null && valid.get(row) == 0;
        }

        private IllegalArgumentException wrongType(String wanted) {
            return new IllegalArgumentException(table.path.getFileName() + ": column '" + name + "' is " + type + ", not " + wanted);
        }

        private void notNull(int row) {
            if (isNull(row)) {
                throw new IllegalArgumentException(table.where(row) + ": column '" + name + "' is null");
            }
        }

        /** An int64 value (a date: its epoch day; a timestamp: its epoch microseconds). */
        public long getLong(int row) {
            notNull(row);
            if (kind == INT64 || kind == TIMESTAMP) {
                return values.getLong(row * 8);
            }
            if (kind == DATE) {
                return values.getInt(row * 4);
            }
            throw wrongType("int64, date or timestamp");
        }

        public double getDouble(int row) {
            notNull(row);
            if (kind == FLOAT64) {
                return values.getDouble(row * 8);
            }
            if (kind == INT64) {
                return values.getLong(row * 8);
            }
            throw wrongType("float64");
        }

        public boolean getBoolean(int row) {
            if (kind != BOOL) {
                throw wrongType("bool");
            }
            notNull(row);
            return values.get(row) != 0;
        }

        public LocalDate getDate(int row) {
            if (kind != DATE) {
                throw wrongType("date");
            }
            return LocalDate.ofEpochDay(getLong(row));
        }

        public LocalDateTime getTimestamp(int row) {
            if (kind != TIMESTAMP) {
                throw wrongType("timestamp");
            }
            long micros = getLong(row);
            return LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), (int) Math.floorMod(micros, 1_000_000L) * 1000, ZoneOffset.UTC);
        }

        /** A number that is equal for equal values of the column (a string's code, a number's bits). */
        public long key(int row) {
            notNull(row);
            switch (kind) {
                case STRING: return code(row);
                case DATE: return values.getInt(row * 4);
                case BOOL: return values.get(row);
                default: return values.getLong(row * 8);
            }
        }

        /** A string column's dictionary code of the row: equal strings, equal codes (a null is "" here). */
        public int code(int row) {
            if (codes == null) {
                buildDictionary();
            }
            return codes[row];
        }

        /** How many distinct strings the column has. */
        public int dictionarySize() {
            if (codes == null) {
                buildDictionary();
            }
            return firstRow.length;
        }

        /** The string of dictionary code {@code code} (decoded once). */
        public String dictionary(int code) {
            if (codes == null) {
                buildDictionary();
            }
            String s = decoded[code];
            if (s == null) {
                s = decoded[code] = text(firstRow[code]);
            }
            return s;
        }

        private String text(int row) {
            int start = values.getInt(row * 4);
            int end = values.getInt(row * 4 + 4);
            if (bytes != null) {
                return new String(bytes, start, end - start, StandardCharsets.UTF_8);
            }
            byte[] b = new byte[end - start];
            ByteBuffer slice = data.duplicate();
            slice.position(start);
            slice.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        /** The value as text, null for a null: strings as they are, numbers, true/false, ISO dates and timestamps. */
        public String getString(int row) {
            if (isNull(row)) {
                return null;
            }
            switch (kind) {
                case STRING: return codes != null ? dictionary(codes[row]) : text(row);
                case INT64: return Long.toString(values.getLong(row * 8));
                case FLOAT64: return Double.toString(values.getDouble(row * 8));
                case BOOL: return values.get(row) != 0 ? "true" : "false";
                case DATE: return getDate(row).toString();
                default: return getTimestamp(row).toString();
            }
        }
    }
}
