import metricdag.node.{Node, Pipes, Table}

import scala.collection.mutable

/** Inventory turnover and days of supply per store, product and business day.
  *
  * For each row of the day's inventory snapshot (units on hand at opening and at close):
  *   average on hand  = (opening + closing) / 2
  *   turnover         = net units sold / average on hand       (None when the average is 0)
  *   days of supply   = closing units / net units sold         (None when nothing was sold, net)
  * Net units sold come from daily_net_sales' reviewed product_sales_daily (sold - returned).
  * A store/product pair that sold but has no snapshot row is counted and logged as a warning.
  *
  * Inputs: inventory_snapshots, product_sales_daily. Output: inventory_turnover_daily.
  */
object Turnover {
  type Key = (String, String, String) // business_date, store_id, product_id

  final case class Stock(key: Key, opening: Long, closing: Long)

  final case class Result(stock: Stock, netUnitsSold: Long, averageOnHand: Double, turnover: Option[Double], daysOfSupply: Option[Double])

  val Header = Seq(
    "business_date", "store_id", "product_id", "opening_units", "closing_units", "net_units_sold",
    "average_on_hand_units", "inventory_turnover", "days_of_supply")

  /** The metric itself: pure, one result per stock row, in key order. */
  def compute(stock: Seq[Stock], netSold: Map[Key, Long]): Seq[Result] =
    stock.sortBy(_.key).map { s =>
      val sold = netSold.getOrElse(s.key, 0L)
      val average = (s.opening + s.closing) / 2.0
      Result(
        s,
        sold,
        average,
        if (average > 0) Some(round(sold / average, 4)) else None,
        if (sold > 0) Some(round(s.closing.toDouble / sold, 2)) else None)
    }

  def round(value: Double, places: Int): Double =
    BigDecimal(value).setScale(places, BigDecimal.RoundingMode.HALF_UP).toDouble

  def main(args: Array[String]): Unit = {
    val node = Node.start(args)
    try {
      val netSold = mutable.HashMap.empty[Key, Long]
      val sales = node.input("product_sales_daily")
      columns(sales, "business_date", "store_id", "product_id", "net_units") { case (Seq(day, store, product, units), row) =>
        val key = (day.getString(row), store.getString(row), product.getString(row))
        netSold(key) = netSold.getOrElse(key, 0L) + units.getLong(row)
      }
      val stock = mutable.ArrayBuffer.empty[Stock]
      val snapshots = node.input("inventory_snapshots")
      columns(snapshots, "business_date", "store_id", "product_id", "opening_units", "closing_units") {
        case (Seq(day, store, product, opening, closing), row) =>
          stock += Stock((day.getString(row), store.getString(row), product.getString(row)), opening.getLong(row), closing.getLong(row))
      }

      val results = compute(stock, netSold.toMap)
      val out = node.writer("inventory_turnover_daily", Header: _*)
      try results.foreach { r =>
        out.row(r.stock.key._1, r.stock.key._2, r.stock.key._3, Long.box(r.stock.opening), Long.box(r.stock.closing),
          Long.box(r.netUnitsSold), Double.box(r.averageOnHand), r.turnover.map(Double.box).orNull, r.daysOfSupply.map(Double.box).orNull)
      } finally out.close()

      val stocked = stock.map(_.key).toSet
      val unstocked = netSold.keys.count(k => !stocked.contains(k))
      if (unstocked > 0)
        node.warning(s"turnover: $unstocked store/product pair(s) sold but have no inventory snapshot row; left out")
      node.info(s"turnover: ${stock.size} snapshot rows, ${netSold.size} store/product sales rows, ${out.rows} rows written")
      node.reportOutput("inventory_turnover_daily", Pipes.metadata(
        "dagster/row_count", Long.box(out.rows), "snapshot_rows", Int.box(stock.size),
        "sold_without_snapshot", Int.box(unstocked), "node_seconds", Double.box(node.seconds())))
    } finally node.close()
  }

  /** Calls `each` with the named columns of `table` for every row. */
  private def columns(table: Table, names: String*)(each: (Seq[Table.Column], Int) => Unit): Unit = {
    val cols = names.map(table.column)
    (0 until table.rows).foreach(row => each(cols, row))
  }
}
