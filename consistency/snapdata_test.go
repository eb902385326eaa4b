package consistency

// SnapshotData encodes the replica's state at its applied index whole in
// memory: the snapshot encoding SnapshotStream writes in pieces. Tests
// compare the two and build snapshots from it.
func (r *Replica) SnapshotData() ([]byte, error) {
	m := r.m
	st := m.publish()
	d := m.snapshotMeta(st)
	d.Objects = make([]snapObject, 0, st.Len())
	st.objects.Scan(func(it objItem) bool {
		d.Objects = append(d.Objects, snapObject{ID: it.id, Version: it.version(), Value: it.value()})
		return true
	})
	return encMode.Marshal(&d)
}
