public enum BulkheadSystemPlaceholder {}
