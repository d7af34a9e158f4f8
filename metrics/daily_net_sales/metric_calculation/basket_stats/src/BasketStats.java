import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Basket statistics per store and business day, from clean POS lines.
 *
 * A basket is one transaction with at least one sales line. Return lines are not basket
 * content and are left out. Items are the units on the sales lines; a basket's value is what
 * the customer paid for those lines (net_amount: gross minus discount), converted to USD with
 * the store currency's rate from fx_rates.
 *
 * Inputs: pos_transactions_clean, fx_rates. Output: basket_stats_daily.
 */
public final class BasketStats {
    private BasketStats() {}

    /** Running totals of one store on one day. */
    static final class StoreDay {
        final Set<String> baskets = new HashSet<>();
        long items;
        double valueUsd;
    }

    public static void main(String[] args) throws Exception {
        NodeArgs node = NodeArgs.parse(args);
        Map<String, Double> usdPerUnit = readRates(node.input("fx_rates"));
        Map<String, Map<String, StoreDay>> days = new HashMap<>(); // business_date -> store_id -> totals
        long lines = 0;
        long returns = 0;

        try (Csv.Reader in = new Csv.Reader(node.input("pos_transactions_clean"))) {
            int date = in.column("business_date");
            int store = in.column("store_id");
            int transaction = in.column("transaction_id");
            int quantity = in.column("quantity");
            int netAmount = in.column("net_amount");
            int currency = in.column("currency");
            int isReturn = in.column("is_return");
            for (List<String> row = in.next(); row != null; row = in.next()) {
                lines++;
                if ("true".equals(row.get(isReturn))) {
                    returns++;
                    continue;
                }
                Double rate = usdPerUnit.get(row.get(currency));
                if (rate == null) {
                    throw new IllegalArgumentException(in.where() + ": no USD rate for currency " + row.get(currency));
                }
                StoreDay day = days.computeIfAbsent(row.get(date), k -> new HashMap<>())
                        .computeIfAbsent(row.get(store), k -> new StoreDay());
                day.baskets.add(row.get(transaction));
                day.items += Long.parseLong(row.get(quantity));
                day.valueUsd += Double.parseDouble(row.get(netAmount)) * rate;
            }
        }

        Path output = node.output("basket_stats_daily");
        try (Csv.Writer out = new Csv.Writer(output, "business_date", "store_id", "baskets",
                "mean_items_per_basket", "mean_basket_value_usd")) {
            for (Map.Entry<String, Map<String, StoreDay>> date : new TreeMap<>(days).entrySet()) {
                for (Map.Entry<String, StoreDay> store : new TreeMap<>(date.getValue()).entrySet()) {
                    StoreDay day = store.getValue();
                    int baskets = day.baskets.size();
                    out.row(date.getKey(), store.getKey(), baskets, round((double) day.items / baskets, 4),
                            round(day.valueUsd / baskets, 2));
                }
            }
        }
        System.out.println("basket_stats: " + lines + " lines (" + returns + " return lines left out), "
                + days.values().stream().mapToInt(Map::size).sum() + " store-days written");
    }

    static Map<String, Double> readRates(Path path) throws Exception {
        Map<String, Double> rates = new HashMap<>();
        try (Csv.Reader in = new Csv.Reader(path)) {
            int currency = in.column("currency");
            int usd = in.column("usd_per_unit");
            for (List<String> row = in.next(); row != null; row = in.next()) {
                rates.put(row.get(currency), Double.parseDouble(row.get(usd)));
            }
        }
        return rates;
    }

    static double round(double value, int places) {
        return BigDecimal.valueOf(value).setScale(places, RoundingMode.HALF_UP).doubleValue();
    }
}
