public enum BulkheadPlaceholder {}
