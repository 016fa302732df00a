package dynamostore

// MapError exposes mapError to the tests of package dynamostore_test.
var MapError = mapError
