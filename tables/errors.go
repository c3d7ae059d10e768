package tables

import (
	"strconv"
	"strings"
)

// Error is a table command's failure. Its text is the exact RESP error reply
// the contract specifies ("ERR ..."), so the server writes it unchanged.
type Error string

func (e Error) Error() string { return string(e) }

// Fixed error texts.
const (
	ErrInvalidTableName = Error("ERR invalid table name")
	ErrInvalidRowID     = Error("ERR invalid row id")
	ErrIncompleteWhere  = Error("ERR incomplete WHERE clause")
	ErrExpectedBy       = Error("ERR expected BY after ORDER")
	ErrOrderByField     = Error("ERR ORDER BY requires a field name")
	ErrLimitNumber      = Error("ERR LIMIT requires a number")
	ErrLimitValue       = Error("ERR LIMIT value must be a positive integer")
	ErrJoinField        = Error("ERR JOIN requires a field name")
	ErrTableIDs         = Error("ERR too many tables created (internal table ids are used up)")
)

// maxEcho bounds how much of a client-supplied value an error repeats: a
// 100 MB value must not come back as a 100 MB error line.
const maxEcho = 128

// q renders client bytes for an error line: CR and LF (which would end the
// RESP line) become spaces, and long values are cut with "...".
func q(b []byte) string {
	s := string(b)
	if len(s) > maxEcho {
		s = s[:maxEcho] + "..."
	}
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

func qs(s string) string { return q([]byte(s)) }

func errNoTable(name []byte) error {
	return Error("ERR table '" + q(name) + "' does not exist")
}

func errTableExists(name []byte) error {
	return Error("ERR table '" + q(name) + "' already exists")
}

func errUnknownField(name []byte) error {
	return Error("ERR unknown field '" + q(name) + "'")
}

func errType(field string, want string, got []byte) error {
	return Error("ERR field '" + qs(field) + "' expects " + want + ", got '" + q(got) + "'")
}

func errFK(field, val, table string) error {
	return Error("ERR foreign key violation: " + qs(field) + "=" + qs(val) + " not found in table '" + qs(table) + "'")
}

func errUnique(field string) error {
	return Error("ERR unique constraint violation on field '" + qs(field) + "'")
}

func errRowNotFound(id int64, table string) error {
	return Error("ERR row " + strconv.FormatInt(id, 10) + " not found in table '" + qs(table) + "'")
}

func errReferenced(id int64, other string) error {
	return Error("ERR cannot delete row " + strconv.FormatInt(id, 10) + ": referenced by table '" + qs(other) + "'")
}

func errDropReferenced(table, other string) error {
	return Error("ERR cannot drop table '" + qs(table) + "': referenced by table '" + qs(other) + "'")
}

func errSpec(spec []byte) error {
	return Error("ERR invalid field spec '" + q(spec) + "', expected field:type")
}

func errFieldName(name []byte) error {
	return Error("ERR invalid field name '" + q(name) + "'")
}

func errFieldType(t []byte) error {
	return Error("ERR unknown field type '" + q(t) + "'")
}

func errModifier(m []byte) error {
	return Error("ERR unknown field modifier '" + q(m) + "'")
}

func errRefTable(t []byte) error {
	return Error("ERR invalid referenced table name '" + q(t) + "'")
}

func errDupField(name []byte) error {
	return Error("ERR duplicate field name '" + q(name) + "'")
}

func errFieldExists(name []byte) error {
	return Error("ERR field '" + q(name) + "' already exists")
}

func errFieldMissing(name []byte) error {
	return Error("ERR field '" + q(name) + "' does not exist")
}

func errAlterAction(action []byte) error {
	return Error("ERR unknown TALTER action '" + strings.ToUpper(q(action)) + "', expected ADD or DROP")
}

func errOperator(op []byte) error {
	return Error("ERR unknown operator '" + q(op) + "'")
}

func errKeyword(tok []byte) error {
	return Error("ERR unexpected keyword '" + q(tok) + "'")
}

func errWhereField(name []byte) error {
	return Error("ERR unknown field '" + q(name) + "' in WHERE clause")
}

func errOrderField(name []byte) error {
	return Error("ERR unknown field '" + q(name) + "' in ORDER BY")
}

func errJoinUnknown(name []byte) error {
	return Error("ERR unknown field '" + q(name) + "' for JOIN")
}

func errNotRef(name []byte) error {
	return Error("ERR field '" + q(name) + "' is not a ref() field")
}
