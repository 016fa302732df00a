package main

import (
	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// storage returns cfg.store, or new memory storage if it is nil.
func (cfg *config) storage() chatfly.Storage {
	if cfg.store == nil {
		return memstore.New(nil)
	}
	return cfg.store
}
