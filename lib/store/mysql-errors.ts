// The server errors, by number, whose names the retry rules read (lib/store/mysql-retry.ts),
// as mysql2 names them; but MariaDB's own numbers, which mysql2's table (MySQL's) does not
// name (1969) or names for another error (4151: MySQL's LOAD DATA
// ER_BULK_PARSER_INCOMPLETE_ESCAPE_SEQUENCE, a statement adrater never sends), by MariaDB's
// meaning. A CGI run's own client names its errors from here (lib/store/mysql-wire.ts), and
// the rules read any driver's error through it by number. No driver is loaded here.
export const SERVER_ERROR_NAMES = new Map([
  [1021, 'ER_DISK_FULL'],
  [1036, 'ER_OPEN_AS_READONLY'],
  [1040, 'ER_CON_COUNT_ERROR'],
  [1044, 'ER_DBACCESS_DENIED_ERROR'],
  [1045, 'ER_ACCESS_DENIED_ERROR'],
  [1047, 'ER_UNKNOWN_COM_ERROR'],
  [1049, 'ER_BAD_DB_ERROR'],
  [1053, 'ER_SERVER_SHUTDOWN'],
  [1054, 'ER_BAD_FIELD_ERROR'],
  [1114, 'ER_RECORD_FILE_FULL'],
  [1129, 'ER_HOST_IS_BLOCKED'],
  [1130, 'ER_HOST_NOT_PRIVILEGED'],
  [1142, 'ER_TABLEACCESS_DENIED_ERROR'],
  [1146, 'ER_NO_SUCH_TABLE'],
  [1180, 'ER_ERROR_DURING_COMMIT'],
  [1184, 'ER_NEW_ABORTING_CONNECTION'],
  [1203, 'ER_TOO_MANY_USER_CONNECTIONS'],
  [1205, 'ER_LOCK_WAIT_TIMEOUT'],
  [1213, 'ER_LOCK_DEADLOCK'],
  [1226, 'ER_USER_LIMIT_REACHED'],
  [1290, 'ER_OPTION_PREVENTS_STATEMENT'],
  [1317, 'ER_QUERY_INTERRUPTED'],
  [1524, 'ER_PLUGIN_IS_NOT_LOADED'],
  [1698, 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR'],
  [1792, 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION'],
  [1820, 'ER_MUST_CHANGE_PASSWORD'],
  [1862, 'ER_MUST_CHANGE_PASSWORD_LOGIN'],
  [1927, 'ER_CONNECTION_KILLED'],
  [1969, 'ER_STATEMENT_TIMEOUT'],
  [3024, 'ER_QUERY_TIMEOUT'],
  [3118, 'ER_ACCOUNT_HAS_BEEN_LOCKED'], // MySQL's
  [4151, 'ER_ACCOUNT_HAS_BEEN_LOCKED'], // MariaDB's
]);
