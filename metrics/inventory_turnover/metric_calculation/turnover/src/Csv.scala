import java.io.{BufferedReader, BufferedWriter, IOException}
import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Path}

import scala.collection.mutable.ArrayBuffer

/** The CSV metricdag exchanges with JVM nodes: UTF-8, a header line, RFC 4180 quoting, an empty field (quoted or not) is null. */
object Csv {

  /** One record; fields are looked up by header name; an empty field is None. */
  final class Row(columns: Map[String, Int], fields: IndexedSeq[Option[String]], val where: String) {
    def opt(name: String): Option[String] = fields.lift(columns(name)).flatten

    def text(name: String): String =
      opt(name).getOrElse(throw new IllegalArgumentException(s"$where: column '$name' is empty"))

    def long(name: String): Long = parse(name)(_.toLong)

    def double(name: String): Double = parse(name)(_.toDouble)

    private def parse[T](name: String)(f: String => T): T = {
      val value = text(name)
      try f(value)
      catch { case _: NumberFormatException => throw new IllegalArgumentException(s"$where: column '$name': not a number: $value") }
    }
  }

  /** Calls `each` for every record of the file at `path`, checking that `required` columns exist. */
  def read(path: Path, required: String*)(each: Row => Unit): Unit = {
    val in = Files.newBufferedReader(path, UTF_8)
    try {
      val header = record(in, path).getOrElse(throw new IOException(s"$path: no header line"))
      val columns = header.map(_.getOrElse("")).zipWithIndex.toMap
      val missing = required.filterNot(columns.contains)
      if (missing.nonEmpty)
        throw new IllegalArgumentException(s"$path: no column(s) ${missing.mkString(", ")} (columns: ${header.flatten.mkString(", ")})")
      var n = 0L
      var next = record(in, path)
      while (next.isDefined) {
        n += 1
        val fields = next.get
        if (!(fields.size == 1 && fields.head.isEmpty)) // a blank line is not a record
          each(new Row(columns, fields, s"${path.getFileName} record $n"))
        next = record(in, path)
      }
    } finally in.close()
  }

  private def record(in: BufferedReader, path: Path): Option[IndexedSeq[Option[String]]] = {
    var c = in.read()
    if (c == -1) return None
    val fields = ArrayBuffer.empty[Option[String]]
    val field = new StringBuilder
    var inQuotes = false
    var quoted = false
    def finish(): Unit = {
      fields += (if (field.isEmpty) None else Some(field.toString)) // empty, quoted or not, is null
      field.clear()
      quoted = false
    }
    while (true) {
      if (inQuotes) {
        if (c == -1) throw new IOException(s"$path: unterminated quoted field")
        if (c == '"') {
          val next = in.read()
          if (next == '"') field.append('"') // an escaped quote
          else { inQuotes = false; c = next } // the closing quote: `next` is read unquoted below
        } else field.append(c.toChar)
        if (inQuotes) c = in.read()
      } else {
        if (c == '"' && field.isEmpty && !quoted) { inQuotes = true; quoted = true }
        else if (c == ',') finish()
        else if (c == '\n' || c == -1) { finish(); return Some(fields.toIndexedSeq) }
        else if (c != '\r') field.append(c.toChar)
        c = in.read()
      }
    }
    None // not reached
  }

  /** Writes `header`, then one line per row; None is written as an empty field. */
  def write(path: Path, header: Seq[String], rows: Iterator[Seq[Option[Any]]]): Long = {
    val out: BufferedWriter = Files.newBufferedWriter(path, UTF_8)
    var n = 0L
    try {
      out.write(header.map(quote).mkString("", ",", "\n"))
      rows.foreach { row =>
        require(row.size == header.size, s"row has ${row.size} fields, header has ${header.size}")
        if (row == Seq(None)) out.write("\"\"\n") // a null alone on its line: not a blank line, which readers skip
        else out.write(row.map(v => v.fold("")(x => quote(x.toString))).mkString("", ",", "\n"))
        n += 1
      }
    } finally out.close()
    n
  }

  def quote(s: String): String =
    if (s.isEmpty || s.exists(ch => ch == ',' || ch == '"' || ch == '\n' || ch == '\r')) "\"" + s.replace("\"", "\"\"") + "\""
    else s
}
