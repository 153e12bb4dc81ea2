-- Keeps why the adapter found a stored checkpoint's content not valid, such
-- as "is not valid JSON at line 3, column 1: expected a value, found the end
-- of the file" for a file cut short.
--
-- Rows captured before this column existed keep NULL; for them the command
-- line shows the adapter's general rule instead.
ALTER TABLE checkpoints ADD COLUMN invalid_reason TEXT;
