import scala.collection.mutable

/** Inventory turnover and days of supply per store, product and business day.
  *
  * For each row of the day's inventory snapshot (units on hand at opening and at close):
  *   average on hand  = (opening + closing) / 2
  *   turnover         = net units sold / average on hand       (None when the average is 0)
  *   days of supply   = closing units / net units sold         (None when nothing was sold, net)
  * Net units sold come from daily_net_sales' reviewed product_sales_daily (sold - returned).
  * A store/product pair that sold but has no snapshot row is counted and reported on stderr.
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
    val node = NodeArgs.parse(args)
    val netSold = mutable.HashMap.empty[Key, Long]
    Csv.read(node.input("product_sales_daily"), "business_date", "store_id", "product_id", "net_units") { row =>
      val key = (row.text("business_date"), row.text("store_id"), row.text("product_id"))
      netSold(key) = netSold.getOrElse(key, 0L) + row.long("net_units")
    }
    val stock = mutable.ArrayBuffer.empty[Stock]
    Csv.read(node.input("inventory_snapshots"), "business_date", "store_id", "product_id", "opening_units", "closing_units") { row =>
      stock += Stock((row.text("business_date"), row.text("store_id"), row.text("product_id")), row.long("opening_units"), row.long("closing_units"))
    }

    val results = compute(stock, netSold.toMap)
    val written = Csv.write(node.output("inventory_turnover_daily"), Header, results.iterator.map { r =>
      Seq(Some(r.stock.key._1), Some(r.stock.key._2), Some(r.stock.key._3), Some(r.stock.opening), Some(r.stock.closing),
        Some(r.netUnitsSold), Some(r.averageOnHand), r.turnover, r.daysOfSupply)
    })

    val stocked = stock.map(_.key).toSet
    val unstocked = netSold.keys.count(k => !stocked.contains(k))
    if (unstocked > 0)
      System.err.println(s"turnover: $unstocked store/product pair(s) sold but have no inventory snapshot row; left out")
    println(s"turnover: ${stock.size} snapshot rows, ${netSold.size} store/product sales rows, $written rows written")
  }
}
