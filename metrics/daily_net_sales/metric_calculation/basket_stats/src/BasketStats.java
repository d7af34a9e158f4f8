import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import metricdag.node.Csv;
import metricdag.node.Node;
import metricdag.node.Pipes;
import metricdag.node.Table;

/**
 * Basket statistics per store and business day, from clean POS lines.
 *
 * A basket is one transaction with at least one sales line. Return lines are not basket
 * content and are left out. Items are the units on the sales lines; a basket's value is what
 * the customer paid for those lines (net_amount: gross minus discount), converted to USD with
 * the store currency's rate from fx_rates.
 *
 * Inputs: pos_transactions_clean, fx_rates. Output: basket_stats_daily (check: baskets_have_items).
 */
public final class BasketStats {
    private BasketStats() {}

    /** Running totals of one store on one day. */
    static final class StoreDay {
        final String date;
        final String store;
        int baskets;
        long items;
        double valueUsd;

        StoreDay(String date, String store) {
            this.date = date;
            this.store = store;
        }
    }

    public static void main(String[] args) throws Exception {
        try (Node node = Node.start(args)) {
            Map<String, Double> usdPerUnit = readRates(node.input("fx_rates"));
            Table lines = node.input("pos_transactions_clean");
            Table.Column date = lines.column("business_date");
            Table.Column store = lines.column("store_id");
            Table.Column transaction = lines.column("transaction_id");
            Table.Column quantity = lines.column("quantity");
            Table.Column netAmount = lines.column("net_amount");
            Table.Column currency = lines.column("currency");
            Table.Column isReturn = lines.column("is_return");

            double[] rateOf = new double[currency.dictionarySize()];
            for (int code = 0; code < rateOf.length; code++) {
                Double rate = usdPerUnit.get(currency.dictionary(code));
                rateOf[code] = rate == null ? Double.NaN : rate;
            }
            Map<Long, Integer> index = new HashMap<>(); // business_date and store_id -> position in days
            long stores = store.dictionarySize();
            List<StoreDay> days = new ArrayList<>();
            int[] counted = new int[transaction.dictionarySize()]; // transaction code -> first store-day counted + 1
            Set<Long> elsewhere = new HashSet<>(); // store-day * transactions + code, for a transaction in several
            long transactions = counted.length;
            int sales = 0;
            for (int row = 0; row < lines.rows(); row++) {
                if (isReturn.getBoolean(row)) {
                    continue;
                }
                double rate = rateOf[currency.code(row)];
                if (Double.isNaN(rate)) {
                    throw new IllegalArgumentException(lines.where(row) + ": no USD rate for currency " + currency.getString(row));
                }
                long key = Math.addExact(Math.multiplyExact(date.key(row), stores), store.code(row));
                Integer at = index.get(key);
                if (at == null) {
                    at = days.size();
                    index.put(key, at);
                    days.add(new StoreDay(date.getString(row), store.getString(row)));
                }
                StoreDay day = days.get(at);
                day.items += quantity.getLong(row);
                day.valueUsd += netAmount.getDouble(row) * rate;
                sales++;
                int code = transaction.code(row);
                if (counted[code] == 0) {
                    counted[code] = at + 1;
                    day.baskets++;
                } else if (counted[code] != at + 1 && elsewhere.add(at * transactions + code)) {
                    day.baskets++;
                }
            }
            days.sort(Comparator.comparing((StoreDay day) -> day.date).thenComparing(day -> day.store));

            int empty = 0;
            try (Csv.Writer out = node.writer("basket_stats_daily", "business_date", "store_id", "baskets",
                    "mean_items_per_basket", "mean_basket_value_usd")) {
                for (StoreDay day : days) {
                    double items = round((double) day.items / day.baskets, 4);
                    empty += items < 1 ? 1 : 0;
                    out.row(day.date, day.store, day.baskets, items, round(day.valueUsd / day.baskets, 2));
                }
            }
            int returns = lines.rows() - sales;
            node.info("basket_stats: " + lines.rows() + " lines (" + returns + " return lines left out), "
                    + days.size() + " store-days written");
            node.reportOutput("basket_stats_daily", Pipes.metadata(
                    "dagster/row_count", days.size(),
                    "input_lines", lines.rows(),
                    "return_lines_left_out", returns,
                    "node_seconds", node.seconds()));
            node.reportCheck("basket_stats_daily", "baskets_have_items", empty == 0, "WARN",
                    Pipes.metadata("store_days_with_less_than_one_item_per_basket", empty));
        }
    }

    static Map<String, Double> readRates(Table rates) {
        Map<String, Double> usd = new HashMap<>();
        Table.Column currency = rates.column("currency");
        Table.Column perUnit = rates.column("usd_per_unit");
        for (int row = 0; row < rates.rows(); row++) {
            usd.put(currency.getString(row), perUnit.getDouble(row));
        }
        return usd;
    }

    static double round(double value, int places) {
        return BigDecimal.valueOf(value).setScale(places, RoundingMode.HALF_UP).doubleValue();
    }
}
