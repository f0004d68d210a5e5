/*
 * finitomata.persistency._memory_fast: MemoryStore's commit path in C (optional).
 *
 * The pure-Python MemoryStore.store_nowait costs a Python frame, a lock taken and released
 * through two method calls, and a copy of the payload made object by object: for a small
 * dict payload that is a third of the runtime's own transition. This module does the same
 * commit with no Python frame: a `Committer` is the callable the runtime gets for
 * `store.store_nowait`, and it either completes the commit or hands the very same call to
 * the pure-Python method (the "slow" path), which then decides everything itself.
 *
 * What it completes, and only this:
 *   - the key is an exact FSMKey of two exact str, the snapshot an exact Snapshot with no
 *     last_error, the expected version an int;
 *   - the payload is immutable (an exact instance of one of the `atoms` types, a tuple of
 *     immutable values, or an instance of a class in `shareable` whose named attributes
 *     are immutable: shared, as in Python); or a tree of exact dict, list and tuple whose
 *     leaves are immutable and whose dict keys are atoms, with no part reached twice
 *     (copied here); or the very object the stored snapshot holds (it was found immutable
 *     when it was committed, so it is shared again);
 *   - no other writer holds the table's lock (a TableLock, defined here): the commit takes
 *     it without a call and releases it, so this path and the Python one exclude each
 *     other exactly as two Python writers do.
 * Anything else (another payload type, a stale version, a busy lock, a table that has no
 * owner, a tree deeper than MAX_DEPTH) goes to the slow path unchanged, which raises the
 * errors the contract names.
 *
 * The copy and the new record are made before the lock is taken, and the copy holds what
 * it is copying: Python 3.11 may collect garbage when a container is allocated, and a
 * finalizer may then run any code. The locked section allocates no object (a growing
 * table allocates memory, not objects), so no Python code runs in it; what it replaces is
 * released after the lock.
 *
 * The record stored is what the Python path stores (see _memory_copy.Record): the snapshot
 * itself when nothing in it can change, else the 7-tuple
 * (name, state, version, history, None, copy, None). Records and copies only the table
 * sees are trees: they are untracked by the cyclic GC and freed by reference counting.
 *
 * `copy_tree(value, atoms, shareable)` is the same copier for reads (shared parts and
 * cycles kept): a copy of a stored tree, or None when the value is not such a tree (the
 * caller then copies it in Python).
 *
 * The module relies on the GIL; the Python side does not import it when the GIL is
 * disabled.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#if PY_VERSION_HEX >= 0x030C0000
#define FM_T_OBJECT_EX Py_T_OBJECT_EX
#else
#define FM_T_OBJECT_EX T_OBJECT_EX
#endif

/* The key's hash is computed once per commit where the API to pass it exists. */
#if PY_VERSION_HEX < 0x030D0000
#define GET_KNOWN(d, k, h) _PyDict_GetItem_KnownHash((d), (k), (h))
#define SET_KNOWN(d, k, v, h) _PyDict_SetItem_KnownHash((d), (k), (v), (h))
#else
#define GET_KNOWN(d, k, h) PyDict_GetItemWithError((d), (k))
#define SET_KNOWN(d, k, v, h) PyDict_SetItem((d), (k), (v))
#endif

#define MAX_DEPTH 100 /* deeper trees go to the slow path (pickle) */

/* ------------------------------------------------------------------ Layout */

typedef struct {
    PyObject_HEAD
    PyTypeObject *store_type;
    PyTypeObject *table_type;
    PyTypeObject *snapshot_type;
    PyTypeObject *key_type;
    PyObject *atoms;     /* frozenset of types shared, never copied */
    PyObject *shareable; /* dict: class -> attribute names (_memory_copy.SHAREABLE) */
    Py_ssize_t store_entry;  /* MemoryStore._entry */
    Py_ssize_t table_alive;  /* _Table.alive */
    Py_ssize_t table_snapshots;
    Py_ssize_t table_lock;
    Py_ssize_t snap_name;
    Py_ssize_t snap_state;
    Py_ssize_t snap_payload;
    Py_ssize_t snap_version;
    Py_ssize_t snap_history;
    Py_ssize_t snap_last_error;
} Layout;

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

static int
slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s has no attribute %s", type->tp_name, name);
        }
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)descr)->d_member->type != FM_T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ attribute", type->tp_name,
                     name);
        Py_DECREF(descr);
        return -1;
    }
    *offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return 0;
}

static int
layout_traverse(Layout *self, visitproc visit, void *arg)
{
    Py_VISIT(self->store_type);
    Py_VISIT(self->table_type);
    Py_VISIT(self->snapshot_type);
    Py_VISIT(self->key_type);
    Py_VISIT(self->atoms);
    Py_VISIT(self->shareable);
    return 0;
}

static int
layout_clear(Layout *self)
{
    Py_CLEAR(self->store_type);
    Py_CLEAR(self->table_type);
    Py_CLEAR(self->snapshot_type);
    Py_CLEAR(self->key_type);
    Py_CLEAR(self->atoms);
    Py_CLEAR(self->shareable);
    return 0;
}

static void
layout_dealloc(Layout *self)
{
    PyObject_GC_UnTrack(self);
    layout_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
layout_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"store_type", "table_type", "snapshot_type", "key_type",
                             "atoms",      "shareable",  NULL};
    PyTypeObject *store_type, *table_type, *snapshot_type, *key_type;
    PyObject *atoms, *shareable;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O!O!O!:Layout", kwlist, &PyType_Type,
                                     &store_type, &PyType_Type, &table_type, &PyType_Type,
                                     &snapshot_type, &PyType_Type, &key_type,
                                     &PyFrozenSet_Type, &atoms, &PyDict_Type, &shareable)) {
        return NULL;
    }
    if (!PyType_IsSubtype(key_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "key_type must be a tuple subclass");
        return NULL;
    }
    Layout *self = (Layout *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->store_type = (PyTypeObject *)Py_NewRef(store_type);
    self->table_type = (PyTypeObject *)Py_NewRef(table_type);
    self->snapshot_type = (PyTypeObject *)Py_NewRef(snapshot_type);
    self->key_type = (PyTypeObject *)Py_NewRef(key_type);
    self->atoms = Py_NewRef(atoms);
    self->shareable = Py_NewRef(shareable);
    if (slot_offset(store_type, "_entry", &self->store_entry) < 0 ||
        slot_offset(table_type, "alive", &self->table_alive) < 0 ||
        slot_offset(table_type, "snapshots", &self->table_snapshots) < 0 ||
        slot_offset(table_type, "lock", &self->table_lock) < 0 ||
        slot_offset(snapshot_type, "name", &self->snap_name) < 0 ||
        slot_offset(snapshot_type, "state", &self->snap_state) < 0 ||
        slot_offset(snapshot_type, "payload", &self->snap_payload) < 0 ||
        slot_offset(snapshot_type, "version", &self->snap_version) < 0 ||
        slot_offset(snapshot_type, "history", &self->snap_history) < 0 ||
        slot_offset(snapshot_type, "last_error", &self->snap_last_error) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyTypeObject LayoutType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "finitomata.persistency._memory_fast.Layout",
    .tp_doc = PyDoc_STR("Layout(store_type, table_type, snapshot_type, key_type, atoms, "
                        "shareable): "
                        "where the fields the commit path reads live."),
    .tp_basicsize = sizeof(Layout),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = layout_new,
    .tp_traverse = (traverseproc)layout_traverse,
    .tp_clear = (inquiry)layout_clear,
    .tp_dealloc = (destructor)layout_dealloc,
};

/* ------------------------------------------------------------------ TableLock */

/* The lock of a MemoryStore table. threading.Lock would do, but taking it from C costs a
 * keyword-argument parse and a clock read per call (CPython's lock computes a deadline
 * even for a try). Every thread that takes or releases this lock holds the GIL, so its
 * state is a plain field the GIL protects: `owner`, the thread holding it (0 when free).
 * Only a thread that has to wait uses the semaphore `wake`: it counts itself in
 * `waiters`, waits without the GIL, and tries again when woken (a release wakes one
 * waiter; a spare wake only makes a waiter look again). Not reentrant: a thread that tries
 * to take it again while holding it (a __del__ or a callback writing to the store from
 * inside a write) gets a RuntimeError instead of a deadlock. A waiting thread lets signal
 * handlers run (Ctrl-C interrupts it). */

typedef struct {
    PyObject_HEAD
    unsigned long owner;     /* the thread holding it, 0 when free (GIL-protected) */
    Py_ssize_t waiters;      /* threads waiting for it (GIL-protected) */
    PyThread_type_lock wake; /* a semaphore, taken while no wake is pending */
} TableLock;

static inline int
table_lock_try(TableLock *self)
{
    if (self->owner != 0) {
        return 0;
    }
    self->owner = PyThread_get_thread_ident();
    return 1;
}

static inline void
table_lock_release(TableLock *self)
{
    self->owner = 0;
    if (self->waiters > 0) {
        PyThread_release_lock(self->wake);
    }
}

static PyObject *
table_lock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "TableLock() takes no arguments");
        return NULL;
    }
    TableLock *self = (TableLock *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->wake = PyThread_allocate_lock();
    if (self->wake == NULL) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
        return NULL;
    }
    PyThread_acquire_lock(self->wake, WAIT_LOCK); /* no wake pending */
    return (PyObject *)self;
}

static void
table_lock_dealloc(TableLock *self)
{
    if (self->wake != NULL) {
        PyThread_free_lock(self->wake);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
table_lock_acquire(TableLock *self, PyObject *Py_UNUSED(ignored))
{
    if (table_lock_try(self)) {
        Py_RETURN_NONE;
    }
    if (self->owner == PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "MemoryStore table lock taken again by the thread holding it (code "
                        "run from inside a write, such as a __del__, wrote to the store)");
        return NULL;
    }
    self->waiters++;
    while (!table_lock_try(self)) {
        PyLockStatus status;
        Py_BEGIN_ALLOW_THREADS
        status = PyThread_acquire_lock_timed(self->wake, -1, 1);
        Py_END_ALLOW_THREADS
        if (status == PY_LOCK_INTR && PyErr_CheckSignals() < 0) { /* Ctrl-C raises here */
            self->waiters--;
            return NULL;
        }
    }
    self->waiters--;
    Py_RETURN_NONE;
}

static PyObject *
table_lock_release_method(TableLock *self, PyObject *Py_UNUSED(ignored))
{
    if (self->owner == 0) {
        PyErr_SetString(PyExc_RuntimeError, "release of an unlocked MemoryStore table lock");
        return NULL;
    }
    table_lock_release(self);
    Py_RETURN_NONE;
}

static PyObject *
table_lock_exit(TableLock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return table_lock_release_method(self, NULL);
}

static PyObject *
table_lock_locked(TableLock *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->owner != 0);
}

static PyMethodDef table_lock_methods[] = {
    {"acquire", (PyCFunction)table_lock_acquire, METH_NOARGS,
     PyDoc_STR("Wait until the lock is free and take it.")},
    {"release", (PyCFunction)table_lock_release_method, METH_NOARGS,
     PyDoc_STR("Release the lock.")},
    {"locked", (PyCFunction)table_lock_locked, METH_NOARGS,
     PyDoc_STR("Whether some thread holds the lock.")},
    {"__enter__", (PyCFunction)table_lock_acquire, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))table_lock_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TableLockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "finitomata.persistency._memory_fast.TableLock",
    .tp_doc = PyDoc_STR("TableLock(): the lock of a MemoryStore table (not reentrant)."),
    .tp_basicsize = sizeof(TableLock),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = table_lock_new,
    .tp_dealloc = (destructor)table_lock_dealloc,
    .tp_methods = table_lock_methods,
};

/* ------------------------------------------------------------------ Seen */

/* The containers a walk has met that may be met again (referenced from more than one
 * place), each with a value (its copy). A few are kept in place and searched in turn;
 * more go to an open-addressing table keyed by address, grown as it fills. Its memory
 * comes from PyMem: no Python object is made, no garbage collection can start. */

#define SEEN_INLINE 16

typedef struct {
    Py_ssize_t len;
    Py_ssize_t cap; /* the table's size (a power of two) once in use, else 0 */
    PyObject **keys;
    PyObject **vals;
    PyObject *inline_keys[SEEN_INLINE];
    PyObject *inline_vals[SEEN_INLINE];
} Seen;

static inline void
seen_init(Seen *s)
{
    s->len = s->cap = 0;
    s->keys = s->inline_keys;
    s->vals = s->inline_vals;
}

static inline size_t
seen_slot(PyObject *key, Py_ssize_t cap)
{
    size_t h = (size_t)key;
    return (h ^ (h >> 9)) & (size_t)(cap - 1);
}

/* 1 with *val set when key was met; 0 when it was not */
static int
seen_find(Seen *s, PyObject *key, PyObject **val)
{
    if (s->cap == 0) {
        for (Py_ssize_t i = 0; i < s->len; i++) {
            if (s->keys[i] == key) {
                *val = s->vals[i];
                return 1;
            }
        }
        return 0;
    }
    for (size_t i = seen_slot(key, s->cap);; i = (i + 1) & (size_t)(s->cap - 1)) {
        if (s->keys[i] == key) {
            *val = s->vals[i];
            return 1;
        }
        if (s->keys[i] == NULL) {
            return 0;
        }
    }
}

static int
seen_grow(Seen *s, Py_ssize_t cap)
{
    PyObject **keys = PyMem_Calloc((size_t)cap, sizeof(PyObject *));
    PyObject **vals = PyMem_Calloc((size_t)cap, sizeof(PyObject *));
    if (keys == NULL || vals == NULL) {
        PyMem_Free(keys);
        PyMem_Free(vals);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t old_cap = s->cap == 0 ? s->len : s->cap;
    for (Py_ssize_t j = 0; j < old_cap; j++) {
        if (s->keys[j] != NULL) {
            size_t i = seen_slot(s->keys[j], cap);
            while (keys[i] != NULL) {
                i = (i + 1) & (size_t)(cap - 1);
            }
            keys[i] = s->keys[j];
            vals[i] = s->vals[j];
        }
    }
    if (s->cap != 0) {
        PyMem_Free(s->keys);
        PyMem_Free(s->vals);
    }
    s->keys = keys;
    s->vals = vals;
    s->cap = cap;
    return 0;
}

/* Adds key (not met yet); -1 with MemoryError set when the table cannot grow. */
static int
seen_add(Seen *s, PyObject *key, PyObject *val)
{
    if (s->cap == 0 && s->len < SEEN_INLINE) {
        s->keys[s->len] = key;
        s->vals[s->len] = val;
        s->len++;
        return 0;
    }
    if ((s->cap == 0 || 2 * (s->len + 1) > s->cap) &&
        seen_grow(s, s->cap == 0 ? 4 * SEEN_INLINE : 2 * s->cap) < 0) {
        return -1;
    }
    size_t i = seen_slot(key, s->cap);
    while (s->keys[i] != NULL) {
        i = (i + 1) & (size_t)(s->cap - 1);
    }
    s->keys[i] = key;
    s->vals[i] = val;
    s->len++;
    return 0;
}

/* Releases the table, and the references to the keys when the walk held them. */
static void
seen_clear(Seen *s, int held)
{
    Py_ssize_t n = s->cap == 0 ? s->len : s->cap;
    for (Py_ssize_t i = 0; held && i < n; i++) {
        Py_XDECREF(s->keys[i]);
    }
    if (s->cap != 0) {
        PyMem_Free(s->keys);
        PyMem_Free(s->vals);
    }
    seen_init(s);
}

/* ------------------------------------------------------------------ the copier */

typedef struct {
    PyObject *atoms;
    PyObject *shareable;
    int private_copy; /* a copy only the table will see: a tree, its containers untracked */
    int depth;
    Seen seen; /* originals referenced more than once (held) -> their copies (borrowed:
                * each is owned by its parent) */
} Copier;

static inline int
is_atom(PyObject *atoms, PyObject *v)
{
    if (v == Py_None || v == Py_True || v == Py_False || PyUnicode_CheckExact(v) ||
        PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyBytes_CheckExact(v)) {
        return 1;
    }
    if (PyDict_CheckExact(v) || PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
        return 0;
    }
    /* hashing a type hashes its address: no Python code runs */
    return PySet_Contains(atoms, (PyObject *)Py_TYPE(v));
}

/* A copy (new reference) of v, a tree of dict/list/tuple of atoms; NULL without an
 * exception when v is not such a tree; NULL with an exception on a real failure. `held`:
 * the references this copy holds on v besides its parent's (its copied parent's). */
static PyObject *copy_tree(Copier *c, PyObject *v, Py_ssize_t held);

/* 1 with *copy set when v was copied already in this copy; 0 when it was not; -1 when it
 * was but the copy must be a tree */
static int
seen_copy(Copier *c, PyObject *v, PyObject **copy)
{
    PyObject *made;
    if (c->seen.len == 0 || !seen_find(&c->seen, v, &made)) {
        return 0;
    }
    /* a part reached twice (shared, or a cycle): a private copy must be a tree */
    if (c->private_copy) {
        return -1;
    }
    *copy = Py_NewRef(made);
    return 1;
}

static int
remember(Copier *c, PyObject *v, PyObject *copy, Py_ssize_t held)
{
    /* a container its parent alone references is reached once: only the others (and the
     * root) are remembered; copy_tree holds one more reference while v is copied */
    if (Py_REFCNT(v) - 1 - held > 1 || c->depth == 1) {
        if (seen_add(&c->seen, v, copy) < 0) {
            return -1;
        }
        Py_INCREF(v); /* its address must not be reused meanwhile */
    }
    return 0;
}

static PyObject *
copy_dict(Copier *c, PyObject *v, Py_ssize_t held)
{
    /* copied in C (PyDict_Copy), then the copy, which only this function can reach, is
     * walked: its keys checked, its values that are not atoms replaced by their copies
     * (replacing values while walking a dict is allowed; its keys do not change) */
    PyObject *copy = PyDict_Copy(v);
    if (copy == NULL) {
        return NULL;
    }
    if (remember(c, v, copy, held) < 0) {
        goto refuse;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *item;
    while (PyDict_Next(copy, &pos, &k, &item)) {
        int atom = is_atom(c->atoms, k); /* a key is shared: it must never change */
        if (atom <= 0) {
            goto refuse;
        }
        atom = is_atom(c->atoms, item);
        if (atom < 0) {
            goto refuse;
        }
        if (atom) {
            continue;
        }
        PyObject *child = copy_tree(c, item, 1); /* the copy holds it too */
        if (child == NULL) {
            goto refuse;
        }
        int failed = child != item && PyDict_SetItem(copy, k, child) < 0;
        Py_DECREF(child);
        if (failed) {
            goto refuse;
        }
    }
    return copy;
refuse:
    Py_DECREF(copy);
    return NULL;
}

static PyObject *
copy_list(Copier *c, PyObject *v, Py_ssize_t held)
{
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *copy = PyList_GetSlice(v, 0, n);
    if (copy == NULL) {
        return NULL;
    }
    if (remember(c, v, copy, held) < 0) {
        Py_DECREF(copy);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(copy, i);
        int atom = is_atom(c->atoms, item);
        if (atom < 0) {
            Py_DECREF(copy);
            return NULL;
        }
        if (atom) {
            continue;
        }
        PyObject *child = copy_tree(c, item, 1); /* the copy holds it too */
        if (child == NULL) {
            Py_DECREF(copy);
            return NULL;
        }
        PyList_SetItem(copy, i, child); /* steals child, drops the shared item */
    }
    return copy;
}

static PyObject *
copy_tuple(Copier *c, PyObject *v, Py_ssize_t held)
{
    /* the tuple itself when every item is kept as it is (an immutable tuple) */
    Py_ssize_t n = PyTuple_GET_SIZE(v);
    PyObject *copy = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(v, i);
        PyObject *child = copy_tree(c, item, 0);
        if (child == NULL) {
            Py_XDECREF(copy);
            return NULL;
        }
        if (copy == NULL && child != item) {
            copy = PyTuple_New(n);
            if (copy == NULL) {
                Py_DECREF(child);
                return NULL;
            }
            for (Py_ssize_t j = 0; j < i; j++) {
                PyTuple_SET_ITEM(copy, j, Py_NewRef(PyTuple_GET_ITEM(v, j)));
            }
        }
        if (copy == NULL) {
            Py_DECREF(child);
        }
        else {
            PyTuple_SET_ITEM(copy, i, child);
        }
    }
    if (copy == NULL) {
        return Py_NewRef(v);
    }
    if (remember(c, v, copy, held) < 0) {
        Py_DECREF(copy);
        return NULL;
    }
    return copy;
}

/* v itself (new reference) when its class is in `shareable` (frozen dataclasses, enums,
 * frozensets: what Python's _memory_copy._plan shares) and every attribute named there
 * holds a value shared too; NULL without an exception otherwise (left to Python, which
 * copies it, or raises what reading an attribute raised), NULL with one on an error.
 * Reading an attribute may run Python code (a property, __getattr__): this runs before
 * the table's lock is taken. */
static PyObject *
share_instance(Copier *c, PyObject *v)
{
    PyObject *names = PyDict_GetItemWithError(c->shareable, (PyObject *)Py_TYPE(v));
    if (names == NULL || !PyTuple_CheckExact(names) || c->depth == MAX_DEPTH) {
        return NULL;
    }
    Py_INCREF(names); /* the dict may be cleared meanwhile */
    Py_INCREF(v);
    c->depth++;
    int shared = 1;
    for (Py_ssize_t i = 0; shared == 1 && i < PyTuple_GET_SIZE(names); i++) {
        PyObject *field = PyObject_GetAttr(v, PyTuple_GET_ITEM(names, i));
        if (field == NULL) {
            PyErr_Clear(); /* Python decides, and says what failed */
            shared = 0;
            break;
        }
        PyObject *kept = NULL;
        if (!PyDict_CheckExact(field) && !PyList_CheckExact(field)) {
            kept = copy_tree(c, field, 1); /* itself when shared: nothing else copied */
        }
        shared = kept == field ? 1 : (kept == NULL && PyErr_Occurred()) ? -1 : 0;
        Py_XDECREF(kept);
        Py_DECREF(field);
    }
    c->depth--;
    Py_DECREF(names);
    if (shared != 1) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static PyObject *
copy_tree(Copier *c, PyObject *v, Py_ssize_t held)
{
    int kind = PyDict_CheckExact(v) ? 1 : PyList_CheckExact(v) ? 2 : PyTuple_CheckExact(v) ? 3 : 0;
    if (kind == 0) {
        int atom = is_atom(c->atoms, v);
        if (atom != 0) {
            return atom > 0 ? Py_NewRef(v) : NULL;
        }
        return share_instance(c, v);
    }
    PyObject *copy = NULL;
    int seen = seen_copy(c, v, &copy);
    if (seen != 0) {
        return copy;
    }
    if (c->depth == MAX_DEPTH) {
        return NULL;
    }
    /* Python 3.11 may collect garbage when a container is allocated, and a finalizer may
     * then change the payload: what is being copied is held until it is copied */
    Py_INCREF(v);
    c->depth++;
    copy = kind == 1   ? copy_dict(c, v, held)
           : kind == 2 ? copy_list(c, v, held)
                       : copy_tuple(c, v, held);
    c->depth--;
    Py_DECREF(v);
    if (c->private_copy && copy != NULL && copy != v && PyObject_GC_IsTracked(copy)) {
        /* a tree no one else will reference: freed by reference counting, never part of
         * a cycle, so the cyclic GC need not scan it on every collection it survives */
        PyObject_GC_UnTrack(copy);
    }
    return copy;
}

static PyObject *
copy_root(PyObject *atoms, PyObject *shareable, PyObject *v, int private_copy)
{
    Copier c;
    c.atoms = atoms;
    c.shareable = shareable;
    c.private_copy = private_copy;
    c.depth = 0;
    seen_init(&c.seen);
    PyObject *copy = copy_tree(&c, v, 0);
    seen_clear(&c.seen, 1);
    return copy;
}

/* ------------------------------------------------------------------ rewriting a copy */

/* When the stored copy has the shape of the new payload (the same keys in the same order,
 * lists of the same lengths: an FSM's payload keeps its shape), the copy is brought up to
 * date in place instead of being replaced: only the leaves that differ are swapped. The
 * plan is made first, reading only; it is applied under the lock, so a stored copy is
 * never left half-changed. */

#define MAX_CHANGES 32

typedef struct {
    PyObject *container; /* a dict or list of the stored copy */
    PyObject *key;       /* the dict's key (an exact str), or NULL for a list */
    Py_ssize_t index;    /* the list's index */
    PyObject *old;       /* the leaf it replaces */
    PyObject *value;     /* the new leaf, from the payload */
} Change;

typedef struct {
    PyObject *atoms;
    int depth;
    int changes;
    Change change[MAX_CHANGES];
    Seen seen; /* payload containers referenced more than once (not held: no code runs) */
} Plan;

static int plan_rewrite(Plan *p, PyObject *old, PyObject *v);

/* 1 when the leaf old (in the copy) can become v; 0 when the shapes differ; -1 on error */
static int
plan_leaf(Plan *p, PyObject *container, PyObject *key, Py_ssize_t index, PyObject *old,
          PyObject *v)
{
    if (old == v) {
        return 1; /* an atom, shared by the copy (its containers are never the payload's) */
    }
    int atom = is_atom(p->atoms, v);
    if (atom < 0) {
        return -1;
    }
    if (!atom) {
        return plan_rewrite(p, old, v);
    }
    if (p->changes == MAX_CHANGES) {
        return 0;
    }
    Change *change = &p->change[p->changes++];
    change->container = container;
    change->key = key;
    change->index = index;
    change->old = old;
    change->value = v;
    return 1;
}

static int
plan_rewrite(Plan *p, PyObject *old, PyObject *v)
{
    /* old: a container of the stored copy, held by its parent only */
    if (Py_REFCNT(old) != 1 || Py_TYPE(old) != Py_TYPE(v) || p->depth == MAX_DEPTH) {
        return 0;
    }
    if (Py_REFCNT(v) > 1) { /* a part reached twice is not a tree: copied, and refused */
        PyObject *ignored;
        if (p->seen.len != 0 && seen_find(&p->seen, v, &ignored)) {
            return 0;
        }
        if (seen_add(&p->seen, v, NULL) < 0) {
            return -1;
        }
    }
    int ok = 1;
    p->depth++;
    if (PyDict_CheckExact(v)) {
        Py_ssize_t size = PyDict_GET_SIZE(v), pos_old = 0, pos_new = 0;
        PyObject *k_old, *v_old, *k_new, *v_new;
        if (PyDict_GET_SIZE(old) != size) {
            ok = 0;
        }
        while (ok == 1 && PyDict_Next(v, &pos_new, &k_new, &v_new)) {
            if (!PyDict_Next(old, &pos_old, &k_old, &v_old) || k_old != k_new ||
                !PyUnicode_CheckExact(k_new)) {
                ok = 0; /* same key objects, in the same order; str (hashed in C) */
                break;
            }
            ok = plan_leaf(p, old, k_old, 0, v_old, v_new);
        }
    }
    else if (PyList_CheckExact(v)) {
        Py_ssize_t size = PyList_GET_SIZE(v);
        if (PyList_GET_SIZE(old) != size) {
            ok = 0;
        }
        for (Py_ssize_t i = 0; ok == 1 && i < size; i++) {
            ok = plan_leaf(p, old, NULL, i, PyList_GET_ITEM(old, i), PyList_GET_ITEM(v, i));
        }
    }
    else {
        ok = 0; /* a tuple with something mutable in it: copied */
    }
    p->depth--;
    return ok;
}

/* Put `value` at the place of `change` in the stored copy. Replacing the value of a str
 * key already in a dict allocates nothing and compares no key with Python code; it cannot
 * fail in practice, but a failure is still undone by the caller. */
static int
swap_leaf(Change *change, PyObject *value)
{
    if (change->key == NULL) {
        return PyList_SetItem(change->container, change->index, Py_NewRef(value));
    }
    return PyDict_SetItem(change->container, change->key, value);
}

/* Apply the plan; the leaves replaced are moved to dropped[] (released after the lock) and
 * *n_dropped says how many. On a failure the leaves already swapped are put back: the
 * stored copy is never left half-changed. */
static int
apply_rewrite(Plan *p, PyObject **dropped, int *n_dropped)
{
    for (int i = 0; i < p->changes; i++) {
        dropped[i] = Py_NewRef(p->change[i].old); /* the container's reference goes */
        *n_dropped = i + 1;
        if (swap_leaf(&p->change[i], p->change[i].value) < 0) {
            for (int j = i - 1; j >= 0; j--) {
                (void)swap_leaf(&p->change[j], p->change[j].old);
            }
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ Committer */

typedef struct {
    PyObject_HEAD
    Layout *layout;
    PyObject *store;
    PyObject *slow;
    vectorcallfunc vectorcall;
} Committer;

static inline int
plain_key(Layout *layout, PyObject *key)
{
    return Py_IS_TYPE(key, layout->key_type) && PyTuple_GET_SIZE(key) == 2 &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(key, 0)) &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(key, 1));
}

/* Whether the version stored in record is the expected one (given as an int object and
 * its value); 0 too when it cannot be read here. The runtime passes the version object
 * of the snapshot it committed last, which is the one stored: that is checked first, so a
 * cold int object is not read. */
static int
version_matches(Layout *layout, PyObject *record, PyObject *expected_obj, long long expected)
{
    PyObject *version;
    if (Py_IS_TYPE(record, layout->snapshot_type)) {
        version = SLOT(record, layout->snap_version);
    }
    else if (PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == 7) {
        version = PyTuple_GET_ITEM(record, 2);
    }
    else {
        return 0;
    }
    if (version == expected_obj) {
        return 1;
    }
    if (version == NULL || !PyLong_CheckExact(version)) {
        return 0;
    }
    long long value = PyLong_AsLongLong(version);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return value == expected;
}

/* A new 7-tuple record for a copied payload (see _memory_copy.Record). */
static PyObject *
new_record(Layout *layout, PyObject *snapshot, PyObject *copy)
{
    PyObject *record = PyTuple_Pack(7, SLOT(snapshot, layout->snap_name),
                                    SLOT(snapshot, layout->snap_state),
                                    SLOT(snapshot, layout->snap_version),
                                    SLOT(snapshot, layout->snap_history), Py_None, copy, Py_None);
    if (record != NULL) {
        PyObject_GC_UnTrack(record); /* referenced by the table only, never in a cycle */
    }
    return record;
}

/* Whether record is a 7-tuple record of a copy that only the table holds: no one else can
 * see it (get(), load() and the Python path hold a reference while they read a record), so
 * it may be brought up to date in place. */
static inline int
private_record(PyObject *record)
{
    return record != NULL && PyTuple_CheckExact(record) && Py_REFCNT(record) == 1 &&
           PyTuple_GET_SIZE(record) == 7 && PyTuple_GET_ITEM(record, 6) == Py_None;
}

/* 1 when committed; 0 when the slow path must decide; -1 on an error (exception set). */
static int
try_commit(Committer *self, PyObject *key, PyObject *snapshot, PyObject *expected_obj)
{
    Layout *layout = self->layout;
    PyObject *entry = SLOT(self->store, layout->store_entry);
    if (entry == NULL || !Py_IS_TYPE(entry, layout->table_type) ||
        SLOT(entry, layout->table_alive) != Py_True || !plain_key(layout, key) ||
        !Py_IS_TYPE(snapshot, layout->snapshot_type) ||
        SLOT(snapshot, layout->snap_last_error) != Py_None || !PyLong_CheckExact(expected_obj)) {
        return 0;
    }
    long long expected = PyLong_AsLongLong(expected_obj);
    if (expected < 0) {
        PyErr_Clear();
        return 0;
    }
    PyObject *snapshots = SLOT(entry, layout->table_snapshots);
    PyObject *lock = SLOT(entry, layout->table_lock);
    PyObject *payload = SLOT(snapshot, layout->snap_payload);
    if (snapshots == NULL || !PyDict_CheckExact(snapshots) || lock == NULL ||
        !Py_IS_TYPE(lock, &TableLockType) || payload == NULL) {
        return 0;
    }

    Py_hash_t hash = PyObject_Hash(key); /* C: a tuple of two str */
    if (hash == -1) {
        return -1;
    }
    PyObject *peek = GET_KNOWN(snapshots, key, hash); /* looked at again under the lock */
    if (peek == NULL && PyErr_Occurred()) {
        return -1;
    }
    /* what to store: the snapshot, when the stored one holds this very payload object (it
     * was found immutable when it was committed); else the stored copy brought up to date
     * in place, when it has the payload's shape; else a new copy, made before the lock is
     * taken (allocating may run a finalizer) */
    PyObject *copy = NULL;
    Plan plan;
    int rewrite = 0, copied = 0;
    if (peek == NULL || !Py_IS_TYPE(peek, layout->snapshot_type) ||
        SLOT(peek, layout->snap_payload) != payload) {
        if ((PyDict_CheckExact(payload) || PyList_CheckExact(payload)) && private_record(peek)) {
            plan.atoms = layout->atoms;
            plan.depth = plan.changes = 0;
            seen_init(&plan.seen);
            rewrite = plan_rewrite(&plan, PyTuple_GET_ITEM(peek, 5), payload);
            seen_clear(&plan.seen, 0);
            if (rewrite < 0) {
                return -1;
            }
        }
        if (!rewrite) {
            copied = 1;
            copy = copy_root(layout->atoms, layout->shareable, payload, 1);
            if (copy == NULL && PyErr_Occurred()) {
                return -1;
            }
        }
    }
    PyObject *record = NULL;
    if (copy == payload) {
        record = Py_NewRef(snapshot); /* immutable all the way down: shared */
    }
    else if (copy != NULL) {
        record = new_record(layout, snapshot, copy); /* allocated before the lock too */
        if (record == NULL) {
            Py_DECREF(copy);
            return -1;
        }
    }
    /* the table's lock, only if it is free: a writer holding it decides in Python */
    if (!table_lock_try((TableLock *)lock)) {
        Py_XDECREF(copy);
        Py_XDECREF(record);
        return 0;
    }
    int result = 0, n_dropped = 0;
    PyObject *current = NULL;
    PyObject *dropped[5 + MAX_CHANGES]; /* released after the lock: a __del__ may run code */
    if (SLOT(entry, layout->table_alive) != Py_True) {
        goto unlock; /* closed meanwhile: the slow path raises StoreNotStarted */
    }
    /* nothing ran since the table was looked at unless a copy was tried (an allocation may
     * run a finalizer, reading an attribute a property): then it is looked at again */
    current = copied ? GET_KNOWN(snapshots, key, hash) : peek;
    if (current == NULL) {
        if (PyErr_Occurred()) {
            result = -1;
            goto unlock;
        }
        if (expected != 0) {
            goto unlock; /* stale */
        }
    }
    else if (!version_matches(layout, current, expected_obj, expected)) {
        goto unlock; /* stale, or a record only Python reads */
    }
    if (rewrite) {
        /* nothing ran since the plan was made (it only reads): the record is the one seen */
        if (current != peek || !private_record(current)) {
            goto unlock;
        }
        if (apply_rewrite(&plan, dropped, &n_dropped) < 0) {
            result = -1;
            goto unlock;
        }
        PyObject *items[5] = {
            SLOT(snapshot, layout->snap_name),    SLOT(snapshot, layout->snap_state),
            SLOT(snapshot, layout->snap_version), SLOT(snapshot, layout->snap_history),
            Py_None,
        };
        for (int i = 0; i < 5; i++) {
            if (PyTuple_GET_ITEM(current, i) != items[i]) { /* the name stays, mostly */
                dropped[n_dropped++] = PyTuple_GET_ITEM(current, i);
                PyTuple_SET_ITEM(current, i, Py_NewRef(items[i]));
            }
        }
        result = 1;
        goto unlock;
    }
    if (record == NULL) {
        if (current == NULL || !Py_IS_TYPE(current, layout->snapshot_type) ||
            SLOT(current, layout->snap_payload) != payload) {
            goto unlock; /* not a payload this path stores */
        }
        record = Py_NewRef(snapshot); /* the very payload found immutable when committed */
    }
    if (current != NULL) {
        dropped[n_dropped++] = Py_NewRef(current);
    }
    result = SET_KNOWN(snapshots, key, record, hash) < 0 ? -1 : 1;
unlock:
    table_lock_release((TableLock *)lock);
    Py_XDECREF(copy);
    Py_XDECREF(record);
    for (int i = 0; i < n_dropped; i++) {
        Py_DECREF(dropped[i]);
    }
    return result;
}

static PyObject *
committer_vectorcall(Committer *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (kwnames == NULL && PyVectorcall_NARGS(nargsf) == 3) {
        int done = try_commit(self, args[0], args[1], args[2]);
        if (done == 1) {
            Py_RETURN_NONE;
        }
        if (done < 0) {
            return NULL;
        }
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

static int
committer_traverse(Committer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->layout);
    Py_VISIT(self->store);
    Py_VISIT(self->slow);
    return 0;
}

static int
committer_clear(Committer *self)
{
    Py_CLEAR(self->layout);
    Py_CLEAR(self->store);
    Py_CLEAR(self->slow);
    return 0;
}

static void
committer_dealloc(Committer *self)
{
    PyObject_GC_UnTrack(self);
    committer_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
committer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"layout", "store", "slow", NULL};
    PyObject *layout, *store, *slow;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO:Committer", kwlist, &LayoutType,
                                     &layout, &store, &slow)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(store, ((Layout *)layout)->store_type)) {
        PyErr_SetString(PyExc_TypeError, "store is not an instance of the layout's store type");
        return NULL;
    }
    if (!PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_TypeError, "slow must be callable");
        return NULL;
    }
    Committer *self = (Committer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->layout = (Layout *)Py_NewRef(layout);
    self->store = Py_NewRef(store);
    self->slow = Py_NewRef(slow);
    self->vectorcall = (vectorcallfunc)committer_vectorcall;
    return (PyObject *)self;
}

static PyObject *
committer_repr(Committer *self)
{
    return PyUnicode_FromFormat("<store_nowait of %R>", self->store);
}

static PyTypeObject CommitterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "finitomata.persistency._memory_fast.Committer",
    .tp_doc = PyDoc_STR("Committer(layout, store, slow): store.store_nowait without a "
                        "Python frame; hands every call it does not complete to slow."),
    .tp_basicsize = sizeof(Committer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = committer_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Committer, vectorcall),
    .tp_repr = (reprfunc)committer_repr,
    .tp_traverse = (traverseproc)committer_traverse,
    .tp_clear = (inquiry)committer_clear,
    .tp_dealloc = (destructor)committer_dealloc,
};

/* ------------------------------------------------------------------ module */

static PyObject *
module_copy_tree(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyFrozenSet_CheckExact(args[1]) || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "copy_tree(value, atoms: frozenset, shareable: dict)");
        return NULL;
    }
    PyObject *copy = copy_root(args[1], args[2], args[0], 0);
    if (copy == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return copy;
}

static PyMethodDef module_methods[] = {
    {"copy_tree", (PyCFunction)(void (*)(void))module_copy_tree, METH_FASTCALL,
     PyDoc_STR("copy_tree(value, atoms, shareable): a copy of a tree of exact dict, list and "
               "tuple whose leaves are atoms or shareable instances (value itself when it is "
               "immutable), shared parts and cycles kept; None when value is not such a "
               "tree.")},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *module)
{
    if (PyType_Ready(&TableLockType) < 0 || PyType_Ready(&LayoutType) < 0 ||
        PyType_Ready(&CommitterType) < 0) {
        return -1;
    }
    if (PyModule_AddObjectRef(module, "TableLock", (PyObject *)&TableLockType) < 0 ||
        PyModule_AddObjectRef(module, "Layout", (PyObject *)&LayoutType) < 0 ||
        PyModule_AddObjectRef(module, "Committer", (PyObject *)&CommitterType) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    /* its types are static: one interpreter per process */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "finitomata.persistency._memory_fast",
    .m_doc = PyDoc_STR("MemoryStore's commit path in C (optional; see _memory_fast.c)."),
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__memory_fast(void)
{
    return PyModuleDef_Init(&module_def);
}
