/*
 * gc.c - the GC heap: allocation, collection, finalization, write barriers.
 *
 * The heap is one reservation of SEGMENT_COUNT segments of SEGMENT_SIZE bytes, committed on
 * first use. Small objects are bump-allocated in the current segment; an object of
 * LARGE_OBJECT_SIZE bytes or more gets a run of whole segments to itself. Allocation records
 * each object's start in a per-segment bitmap. Objects never move.
 *
 * A collection runs when the current segment is full: generation 0 (retired segments that
 * never survived a collection), every GEN1_EVERY-th time generation 1, every GEN2_EVERY-th of
 * those a full collection, and a full collection whenever no free segment is left. It marks
 * objects in the collected segments, from
 *   - the roots: strong and pinned handles; each thread's GC frames, thread-static storage,
 *     registered thread-static roots and last allocated object; objects waiting for their
 *     finalizer;
 *   - the objects of segments not being collected (older generations, the current segment)
 *     whose write-barrier bits say they reference a collected segment: the barriers keep one
 *     bit per target segment for every segment, a coarse card table;
 *   - transitively, every pointer-sized word of marked objects whose type has
 *     RH_MT_FLAG_CONTAINS_POINTERS and that holds the start of an object (conservative within
 *     objects: the reference runtime has no GC descriptors);
 *   - dependent handles whose primary is marked (secondary).
 * Then, as in .NET: short weak handles to unmarked objects are cleared; unmarked finalizable
 * objects are queued and marked again (resurrected) until their finalizer has run; long weak
 * and dependent handles to unmarked objects are cleared. Collected segments with no marked
 * object are reused (given back to the OS after a full collection); the others are promoted.
 *
 * Threads are not suspended: the GC lock serializes allocation and collection, and threads
 * wait at RhpGcPoll and transitions while a collection runs (RhpTrapThreads). Queued
 * finalizers run outside the lock at the next allocation or GC poll, one thread at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define SEGMENT_SHIFT 20
#define SEGMENT_SIZE ((size_t)1 << SEGMENT_SHIFT)
#define SEGMENT_COUNT 64 /* one bit per segment in a uint64_t */
#define HEAP_SIZE (SEGMENT_SIZE * SEGMENT_COUNT)
#define LARGE_OBJECT_SIZE (SEGMENT_SIZE / 2)
#define OBJECT_ALIGNMENT ((size_t)8)
#define MIN_OBJECT_SIZE (3 * sizeof(void *))
#define BITMAP_WORDS (SEGMENT_SIZE / OBJECT_ALIGNMENT / 64)
#define MAX_GENERATION 2
#define GEN1_EVERY 8 /* collections */
#define GEN2_EVERY 4 /* generation 1 collections */
#define FROZEN_SEGMENTS 32

enum segment_state {
    SEG_FREE,
    SEG_CURRENT,    /* small objects, being allocated from */
    SEG_SMALL,      /* small objects, retired */
    SEG_LARGE,      /* first segment of a large object's run */
    SEG_LARGE_TAIL, /* the rest of the run */
};

typedef struct segment {
    uint8_t state;
    uint8_t generation;
    uint8_t committed;
    uint32_t head; /* SEG_LARGE_TAIL: the run's first segment */
    uint32_t span; /* SEG_LARGE: segments in the run */
    size_t used;   /* bytes handed out from the segment's start */
} segment;

typedef struct gc_record {
    uint64_t index;
    uint64_t generation;
    uint64_t promoted;
    uint64_t reclaimed;
} gc_record;

typedef struct frozen_segment {
    unsigned char *start;
    size_t allocated;
    size_t committed;
    size_t reserved;
    bool used;
} frozen_segment;

rb_lock rb_gc_lock = RB_LOCK_INIT;

/* Everything below is guarded by rb_gc_lock, except where atomic. */
static _Atomic(unsigned char *) heap_base;
static segment segments[SEGMENT_COUNT];
static _Atomic uint64_t remembered[SEGMENT_COUNT]; /* segment -> segments it holds references to */
static uint64_t start_bits[SEGMENT_COUNT][BITMAP_WORDS]; /* object starts, one bit per 8 bytes */
static uint64_t mark_bits[SEGMENT_COUNT][BITMAP_WORDS];
static void **mark_stack;
static size_t mark_stack_capacity;
static int current = -1;
static atomic_uint trap_threads;
static unsigned collections_since_gen1;
static unsigned gen1_since_gen2;

static struct {
    uint64_t collections;
    uint64_t gen_collections[MAX_GENERATION + 1];
    gc_record last_any;
    gc_record last_ephemeral;
    gc_record last_full;
    uint64_t committed;
    uint64_t allocated_bytes;
    uint64_t allocated_objects;
    uint64_t finalizers_run;
} stats;

static void **finalizable; /* registered for finalization */
static size_t finalizable_count;
static size_t finalizable_capacity;
static void **fqueue; /* dead, waiting for their finalizer: [fqueue_head, fqueue_count) */
static size_t fqueue_head;
static size_t fqueue_count;
static size_t fqueue_capacity;
static atomic_int finalizing;

static frozen_segment frozen[FROZEN_SEGMENTS];

static const RhMethodTable rb_string_type = {
    sizeof(uint16_t),
    RH_MT_FLAG_IS_STRING,
    (uint32_t)(offsetof(RhString, length) + sizeof(uint32_t) + sizeof(uint16_t)),
    NULL,
    "System.String",
    NULL,
    NULL,
    0,
    0,
};

static inline uint64_t seg_bit(unsigned index)
{
    return (uint64_t)1 << index;
}

static inline unsigned lowest(uint64_t mask)
{
    return (unsigned)__builtin_ctzll(mask);
}

static inline void set_bit(uint64_t *bits, size_t unit)
{
    bits[unit / 64] |= (uint64_t)1 << (unit % 64);
}

static inline bool test_bit(const uint64_t *bits, size_t unit)
{
    return (bits[unit / 64] >> (unit % 64)) & 1;
}

static inline unsigned char *segment_start(unsigned index)
{
    return atomic_load_explicit(&heap_base, memory_order_relaxed) + (size_t)index * SEGMENT_SIZE;
}

/* The segment an address falls in, or -1 outside the heap. Lock-free. */
static inline int raw_segment(const void *address)
{
    unsigned char *base = atomic_load_explicit(&heap_base, memory_order_acquire);
    uintptr_t offset = (uintptr_t)address - (uintptr_t)base;
    if (base == NULL || offset >= HEAP_SIZE)
        return -1;
    return (int)(offset >> SEGMENT_SHIFT);
}

/* The segment owning the object at an address (a large run's first segment), -1 if none. */
static int owning_segment(const void *address)
{
    int index = raw_segment(address);
    if (index < 0)
        return -1;
    if (segments[index].state == SEG_LARGE_TAIL)
        index = (int)segments[index].head;
    return segments[index].state == SEG_FREE ? -1 : index;
}

/* The object starting at `address` (or, if `interior`, containing it) in segment `index`. */
static unsigned char *object_start(unsigned index, const void *address, bool interior)
{
    unsigned char *base = segment_start(index);
    size_t offset = (size_t)((const unsigned char *)address - base);
    if (offset >= segments[index].used)
        return NULL;
    if (segments[index].state == SEG_LARGE)
        return offset == 0 || interior ? base : NULL;
    size_t unit = offset / OBJECT_ALIGNMENT;
    if (!interior)
        return offset % OBJECT_ALIGNMENT == 0 && test_bit(start_bits[index], unit) ? base + offset : NULL;
    size_t word = unit / 64;
    unsigned bit = (unsigned)(unit % 64);
    uint64_t bits = start_bits[index][word] & (bit == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (bit + 1)) - 1);
    for (;;) {
        if (bits != 0)
            return base + (word * 64 + 63 - (size_t)__builtin_clzll(bits)) * OBJECT_ALIGNMENT;
        if (word == 0)
            return NULL;
        bits = start_bits[index][--word];
    }
}

/* Offset just past the object starting at `offset` in segment `index`. */
static size_t object_end(unsigned index, size_t offset)
{
    const segment *s = &segments[index];
    if (s->state == SEG_LARGE)
        return s->used;
    size_t unit = offset / OBJECT_ALIGNMENT + 1;
    while (unit * OBJECT_ALIGNMENT < s->used) {
        size_t word = unit / 64;
        uint64_t bits = start_bits[index][word] >> (unit % 64);
        if (bits != 0)
            return (unit + (size_t)__builtin_ctzll(bits)) * OBJECT_ALIGNMENT;
        unit = (word + 1) * 64;
    }
    return s->used;
}

static bool in_frozen_segment(const void *address)
{
    for (unsigned i = 0; i < FROZEN_SEGMENTS; i++) {
        const frozen_segment *f = &frozen[i];
        if (f->used && (uintptr_t)address - (uintptr_t)f->start < f->allocated)
            return true;
    }
    return false;
}

/* --- Write barrier ----------------------------------------------------------------------- */

static inline void remember(const void *slot, const void *ref)
{
    if (ref == NULL)
        return;
    int from = raw_segment(slot);
    int to = raw_segment(ref);
    if (from < 0 || to < 0 || from == to)
        return;
    uint64_t bit = seg_bit((unsigned)to);
    if ((atomic_load_explicit(&remembered[from], memory_order_relaxed) & bit) == 0)
        atomic_fetch_or_explicit(&remembered[from], bit, memory_order_relaxed);
}

/* --- Marking ----------------------------------------------------------------------------- */

typedef struct mark_state {
    uint64_t allocated;  /* segments holding objects (first segments of large runs) */
    uint64_t candidates; /* those this collection may free */
    uint64_t tails;      /* large runs' other segments */
    uint64_t live;       /* allocated segments to keep */
    size_t top;          /* mark stack */
    bool overflow;       /* the mark stack could not grow: keep everything */
    bool changed;
    bool long_weak;
} mark_state;

static void mark_ref(mark_state *m, const void *address, bool interior)
{
    int index = owning_segment(address);
    if (index < 0 || (m->candidates & seg_bit((unsigned)index)) == 0)
        return; /* outside the heap, or in a segment that is kept anyway */
    unsigned char *start = object_start((unsigned)index, address, interior);
    if (start == NULL)
        return;
    size_t unit = (size_t)(start - segment_start((unsigned)index)) / OBJECT_ALIGNMENT;
    if (test_bit(mark_bits[index], unit))
        return;
    set_bit(mark_bits[index], unit);
    m->live |= seg_bit((unsigned)index);
    if (m->top == mark_stack_capacity) {
        size_t capacity = mark_stack_capacity ? mark_stack_capacity * 2 : 4096;
        void **grown = realloc(mark_stack, capacity * sizeof *grown);
        if (grown == NULL) {
            m->overflow = true;
            return;
        }
        mark_stack = grown;
        mark_stack_capacity = capacity;
    }
    mark_stack[m->top++] = start;
}

static bool is_marked(const mark_state *m, const void *address)
{
    int index = owning_segment(address);
    if (index < 0 || (m->candidates & seg_bit((unsigned)index)) == 0)
        return true; /* not collected by this collection */
    unsigned char *start = object_start((unsigned)index, address, true);
    if (start == NULL)
        return false;
    return test_bit(mark_bits[index], (size_t)(start - segment_start((unsigned)index)) / OBJECT_ALIGNMENT);
}

/* Mark what the object's reference-holding words point to. */
static void scan_object(mark_state *m, unsigned char *object, size_t size)
{
    const RhMethodTable *type = ((RhObject *)object)->method_table;
    if (type == NULL || (type->flags & RH_MT_FLAG_CONTAINS_POINTERS) == 0)
        return;
    for (size_t offset = sizeof(void *); offset + sizeof(void *) <= size; offset += sizeof(void *))
        mark_ref(m, __atomic_load_n((void **)(object + offset), __ATOMIC_RELAXED), false);
}

static void drain(mark_state *m)
{
    while (m->top > 0) {
        unsigned char *object = mark_stack[--m->top];
        unsigned index = (unsigned)owning_segment(object);
        size_t offset = (size_t)(object - segment_start(index));
        scan_object(m, object, object_end(index, offset) - offset);
    }
}

static uint64_t heads_of(const mark_state *m, uint64_t mask)
{
    uint64_t tails = mask & m->tails;
    mask &= ~m->tails;
    while (tails != 0) {
        unsigned tail = lowest(tails);
        tails &= tails - 1;
        mask |= seg_bit(segments[tail].head);
    }
    return mask;
}

/* Objects of kept segments that, by their barrier bits, reference collected segments. */
static void scan_cards(mark_state *m)
{
    uint64_t kept = m->allocated & ~m->candidates;
    while (kept != 0) {
        unsigned index = lowest(kept);
        kept &= kept - 1;
        const segment *s = &segments[index];
        uint64_t refs = atomic_load_explicit(&remembered[index], memory_order_relaxed);
        if (s->state == SEG_LARGE) {
            for (unsigned k = 1; k < s->span; k++)
                refs |= atomic_load_explicit(&remembered[index + k], memory_order_relaxed);
        }
        if ((heads_of(m, refs) & m->candidates) == 0)
            continue;
        unsigned char *base = segment_start(index);
        for (size_t word = 0; word * 64 * OBJECT_ALIGNMENT < s->used; word++) {
            uint64_t bits = start_bits[index][word];
            while (bits != 0) {
                size_t offset = (word * 64 + lowest(bits)) * OBJECT_ALIGNMENT;
                bits &= bits - 1;
                scan_object(m, base + offset, object_end(index, offset) - offset);
            }
        }
        drain(m);
    }
}

static void visit_strong(rb_handle *handle, void *context)
{
    if (handle->type == RH_HANDLE_NORMAL || handle->type == RH_HANDLE_PINNED)
        mark_ref(context, atomic_load_explicit(&handle->target, memory_order_relaxed), false);
}

static void visit_dependent(rb_handle *handle, void *context)
{
    mark_state *m = context;
    if (handle->type != RH_HANDLE_DEPENDENT)
        return;
    void *primary = atomic_load_explicit(&handle->target, memory_order_relaxed);
    void *secondary = atomic_load_explicit(&handle->secondary, memory_order_relaxed);
    if (primary != NULL && secondary != NULL && is_marked(m, primary) && !is_marked(m, secondary)) {
        mark_ref(m, secondary, false);
        m->changed = true;
    }
}

static void mark_dependents(mark_state *m)
{
    drain(m);
    do {
        m->changed = false;
        rb_handles_visit_locked(visit_dependent, m);
        drain(m);
    } while (m->changed);
}

static void visit_clear(rb_handle *handle, void *context)
{
    mark_state *m = context;
    void *target = atomic_load_explicit(&handle->target, memory_order_relaxed);
    if (target == NULL || is_marked(m, target))
        return;
    if (handle->type == RH_HANDLE_WEAK || (m->long_weak && handle->type == RH_HANDLE_WEAK_TRACK_RESURRECTION)) {
        atomic_store_explicit(&handle->target, NULL, memory_order_relaxed);
    } else if (m->long_weak && handle->type == RH_HANDLE_DEPENDENT) {
        atomic_store_explicit(&handle->target, NULL, memory_order_relaxed);
        atomic_store_explicit(&handle->secondary, NULL, memory_order_relaxed);
    }
}

static void mark_threads(mark_state *m)
{
    for (rb_thread *thread = rb_threads; thread != NULL; thread = thread->next) {
        mark_ref(m, thread->last_allocated, false);
        for (RhGcFrameRegistration *frame = thread->frames; frame != NULL; frame = frame->next) {
            for (uint32_t k = 0; k < frame->count; k++)
                mark_ref(m, frame->object_refs[k], frame->maybe_interior != 0);
        }
        for (uint32_t k = 0; k < thread->inlined_root_count; k++)
            mark_ref(m, *thread->inlined_roots[k], false);
        mark_ref(m, thread->static_storage, false);
    }
}

static bool grow_array(void ***array, size_t *capacity, size_t needed)
{
    if (needed <= *capacity)
        return true;
    size_t size = *capacity ? *capacity : 64;
    while (size < needed)
        size *= 2;
    void **grown = realloc(*array, size * sizeof *grown);
    if (grown == NULL)
        return false;
    *array = grown;
    *capacity = size;
    return true;
}

/* Queue the dead finalizable objects, resurrecting them until their finalizer has run. */
static void scan_finalizable(mark_state *m)
{
    if (!grow_array(&fqueue, &fqueue_capacity, fqueue_count + finalizable_count)) {
        for (size_t i = 0; i < finalizable_count; i++) /* no room to queue: keep them all */
            mark_ref(m, finalizable[i], false);
        return;
    }
    for (size_t i = 0; i < finalizable_count;) {
        void *object = finalizable[i];
        if (is_marked(m, object)) {
            i++;
            continue;
        }
        fqueue[fqueue_count++] = object;
        finalizable[i] = finalizable[--finalizable_count];
        mark_ref(m, object, false);
    }
}

/* --- Collection -------------------------------------------------------------------------- */

static void free_run(unsigned index, unsigned span, bool decommit)
{
    for (unsigned k = index; k < index + span; k++) {
        segment *s = &segments[k];
        if (decommit && s->committed && pal_decommit(segment_start(k), SEGMENT_SIZE) == 0) {
            s->committed = 0;
            stats.committed -= SEGMENT_SIZE;
        }
        uint8_t committed = s->committed;
        *s = (segment){ 0 };
        s->state = SEG_FREE;
        s->committed = committed;
        atomic_store_explicit(&remembered[k], 0, memory_order_relaxed);
    }
}

static void collect(unsigned generation)
{
    atomic_store(&trap_threads, 1);
    rb_handles_lock();

    mark_state m = { 0 };
    for (unsigned i = 0; i < SEGMENT_COUNT; i++) {
        switch (segments[i].state) {
        case SEG_CURRENT:
            m.allocated |= seg_bit(i);
            break;
        case SEG_SMALL:
        case SEG_LARGE:
            m.allocated |= seg_bit(i);
            if (segments[i].generation <= generation) {
                m.candidates |= seg_bit(i);
                memset(mark_bits[i], 0, sizeof mark_bits[i]);
            }
            break;
        case SEG_LARGE_TAIL:
            m.tails |= seg_bit(i);
            break;
        default:
            break;
        }
    }
    m.live = m.allocated & ~m.candidates;

    mark_threads(&m);
    rb_handles_visit_locked(visit_strong, &m);
    for (size_t i = fqueue_head; i < fqueue_count; i++)
        mark_ref(&m, fqueue[i], false);
    drain(&m);
    scan_cards(&m);
    mark_dependents(&m);
    if (!m.overflow) {
        rb_handles_visit_locked(visit_clear, &m); /* short weak handles */
        scan_finalizable(&m);
        mark_dependents(&m);
    }
    if (m.overflow)
        m.live = m.allocated; /* could not mark everything: free nothing, clear nothing */
    else {
        m.long_weak = true;
        rb_handles_visit_locked(visit_clear, &m); /* long weak and dependent handles */
    }

    uint64_t promoted = 0;
    uint64_t reclaimed = 0;
    uint64_t freed = 0;
    uint64_t candidates = m.candidates;
    while (candidates != 0) {
        unsigned index = lowest(candidates);
        candidates &= candidates - 1;
        segment *s = &segments[index];
        unsigned span = s->state == SEG_LARGE ? s->span : 1;
        if (m.live & seg_bit(index)) {
            promoted += s->used;
            if (s->generation < MAX_GENERATION)
                s->generation++;
            continue;
        }
        reclaimed += s->used;
        for (unsigned k = index; k < index + span; k++)
            freed |= seg_bit(k);
        free_run(index, span, generation == MAX_GENERATION);
    }
    if (freed != 0) {
        for (unsigned i = 0; i < SEGMENT_COUNT; i++)
            atomic_fetch_and_explicit(&remembered[i], ~freed, memory_order_relaxed);
    }

    gc_record record = { ++stats.collections, generation, promoted, reclaimed };
    for (unsigned g = 0; g <= generation; g++)
        stats.gen_collections[g]++;
    stats.last_any = record;
    if (generation < MAX_GENERATION)
        stats.last_ephemeral = record;
    else
        stats.last_full = record;
    if (generation == 0) {
        collections_since_gen1++;
    } else {
        collections_since_gen1 = 0;
        gen1_since_gen2 = generation == 1 ? gen1_since_gen2 + 1 : 0;
    }

    rb_handles_unlock();
    atomic_store(&trap_threads, 0);
}

static unsigned next_generation(void)
{
    if (collections_since_gen1 + 1 < GEN1_EVERY)
        return 0;
    return gen1_since_gen2 + 1 < GEN2_EVERY ? 1 : MAX_GENERATION;
}

/* --- Allocation -------------------------------------------------------------------------- */

static bool commit_segment(unsigned index)
{
    if (segments[index].committed)
        return true;
    if (pal_commit(segment_start(index), SEGMENT_SIZE) != 0)
        return false;
    segments[index].committed = 1;
    stats.committed += SEGMENT_SIZE;
    return true;
}

static int find_free_run(unsigned span)
{
    for (unsigned i = 0; i + span <= SEGMENT_COUNT; i++) {
        unsigned k = 0;
        while (k < span && segments[i + k].state == SEG_FREE)
            k++;
        if (k == span)
            return (int)i;
        i += k; /* segments[i + k] is in use */
    }
    return -1;
}

static int take_segments(unsigned span)
{
    int index = find_free_run(span);
    if (index < 0) {
        collect(MAX_GENERATION);
        index = find_free_run(span);
    }
    if (index < 0)
        return -1;
    for (unsigned k = 0; k < span; k++) {
        if (!commit_segment((unsigned)index + k))
            return -1;
        memset(start_bits[index + (int)k], 0, sizeof start_bits[0]);
    }
    return index;
}

static unsigned char *alloc_small(size_t size)
{
    if (current < 0 || SEGMENT_SIZE - segments[current].used < size) {
        if (current >= 0) {
            segments[current].state = SEG_SMALL;
            current = -1;
            collect(next_generation());
        }
        int index = take_segments(1);
        if (index < 0)
            return NULL;
        segments[index].state = SEG_CURRENT;
        segments[index].generation = 0;
        segments[index].used = 0;
        current = index;
    }
    segment *s = &segments[current];
    unsigned char *object = segment_start((unsigned)current) + s->used;
    set_bit(start_bits[current], s->used / OBJECT_ALIGNMENT);
    s->used += size;
    return object;
}

static unsigned char *alloc_large(size_t size)
{
    size_t span = (size + SEGMENT_SIZE - 1) / SEGMENT_SIZE;
    if (span > SEGMENT_COUNT)
        return NULL;
    int index = take_segments((unsigned)span);
    if (index < 0)
        return NULL;
    segment *head = &segments[index];
    head->state = SEG_LARGE;
    head->generation = MAX_GENERATION; /* large objects live in generation 2, as in .NET */
    head->span = (uint32_t)span;
    head->used = size;
    set_bit(start_bits[index], 0);
    for (unsigned k = 1; k < span; k++) {
        segments[index + k].state = SEG_LARGE_TAIL;
        segments[index + k].head = (uint32_t)index;
    }
    return segment_start((unsigned)index);
}

static void run_finalizers(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&finalizing, &expected, 1))
        return; /* another thread is running them, or this one is, inside a finalizer */
    for (;;) {
        rb_lock_acquire(&rb_gc_lock);
        if (fqueue_head == fqueue_count) {
            fqueue_head = fqueue_count = 0;
            rb_lock_release(&rb_gc_lock);
            break;
        }
        void *object = fqueue[fqueue_head]; /* stays queued, and so alive, while it runs */
        rb_lock_release(&rb_gc_lock);
        const RhMethodTable *type = ((RhObject *)object)->method_table;
        if (type != NULL && type->finalizer != NULL)
            type->finalizer(object);
        rb_lock_acquire(&rb_gc_lock);
        fqueue_head++;
        stats.finalizers_run++;
        rb_lock_release(&rb_gc_lock);
    }
    atomic_store(&finalizing, 0);
}

static void *heap_alloc(const RhMethodTable *type, size_t size, uint32_t flags)
{
    if (type == NULL || !rb_ensure_initialized())
        return NULL;
    rb_thread *thread = rb_thread_current();
    if (thread == NULL)
        return NULL;
    run_finalizers();
    if (size > HEAP_SIZE)
        return NULL;
    if (size < MIN_OBJECT_SIZE)
        size = MIN_OBJECT_SIZE;
    size = (size + OBJECT_ALIGNMENT - 1) & ~(OBJECT_ALIGNMENT - 1);
    bool finalize = (flags & RH_ALLOC_FINALIZE) != 0;

    rb_lock_acquire(&rb_gc_lock);
    unsigned char *object = NULL;
    if (!finalize || grow_array(&finalizable, &finalizable_capacity, finalizable_count + 1)) {
        if (size >= LARGE_OBJECT_SIZE || (flags & RH_ALLOC_LARGE_OBJECT_HEAP))
            object = alloc_large(size);
        else
            object = alloc_small(size);
    }
    if (object != NULL) {
        memset(object, 0, size);
        ((RhObject *)object)->method_table = type;
        thread->last_allocated = object;
        stats.allocated_bytes += size;
        stats.allocated_objects++;
        if (finalize)
            finalizable[finalizable_count++] = object;
    }
    rb_lock_release(&rb_gc_lock);
    return object;
}

static size_t array_size(const RhMethodTable *type, uint64_t length, size_t minimum_header, size_t element)
{
    size_t header = type->base_size > minimum_header ? type->base_size : minimum_header;
    uint64_t total = (uint64_t)header + length * element;
    return total > HEAP_SIZE ? HEAP_SIZE + 1 : (size_t)total;
}

static void *new_array(const RhMethodTable *type, uint32_t length, uint32_t flags)
{
    if (type == NULL)
        return NULL;
    RhArray *array = heap_alloc(type, array_size(type, length, sizeof(RhArray), type->component_size), flags);
    if (array != NULL)
        array->length = length;
    return array;
}

int rb_heap_init(void)
{
    unsigned char *base = pal_reserve(HEAP_SIZE);
    if (base == NULL)
        return -1;
    atomic_store_explicit(&heap_base, base, memory_order_release);
    return 0;
}

void rb_gc_wait_while_trapped(void)
{
    while (atomic_load_explicit(&trap_threads, memory_order_acquire) != 0)
        pal_thread_yield();
}

/* --- Exports: allocation ----------------------------------------------------------------- */

RUNTIME_BASE_API void *RhpNewFast(const RhMethodTable *type)
{
    return type != NULL ? heap_alloc(type, type->base_size, 0) : NULL;
}

RUNTIME_BASE_API void *RhpNewFinalizable(const RhMethodTable *type)
{
    return type != NULL ? heap_alloc(type, type->base_size, RH_ALLOC_FINALIZE) : NULL;
}

RUNTIME_BASE_API void *RhpNewArray(const RhMethodTable *array_type, int32_t length)
{
    return length >= 0 ? new_array(array_type, (uint32_t)length, 0) : NULL;
}

RUNTIME_BASE_API RhString *RhNewString(const RhMethodTable *string_type, int32_t length)
{
    if (length < 0)
        return NULL;
    const RhMethodTable *type = string_type != NULL ? string_type : &rb_string_type;
    size_t size = array_size(type, (uint32_t)length, rb_string_type.base_size, sizeof(uint16_t));
    RhString *string = heap_alloc(type, size, 0);
    if (string != NULL)
        string->length = (uint32_t)length;
    return string;
}

RUNTIME_BASE_API void RhAllocateNewObject(const RhMethodTable *type, uint32_t flags, void **result)
{
    if (result != NULL)
        *result = type != NULL ? heap_alloc(type, type->base_size, flags) : NULL;
}

RUNTIME_BASE_API void RhAllocateNewArray(const RhMethodTable *array_type, uint32_t length, uint32_t flags,
                                         void **result)
{
    if (result != NULL)
        *result = new_array(array_type, length, flags);
}

/* --- Exports: GC information --------------------------------------------------------------- */

RUNTIME_BASE_API int32_t RhGetGeneration(const void *object)
{
    if (object == NULL)
        return -1;
    rb_lock_acquire(&rb_gc_lock);
    int index = owning_segment(object);
    int32_t generation = index >= 0 ? segments[index].generation : in_frozen_segment(object) ? INT32_MAX : -1;
    rb_lock_release(&rb_gc_lock);
    return generation;
}

static void copy_record(RhGcMemoryInfo *info, const gc_record *record)
{
    info->last_index = record->index;
    info->last_generation = record->generation;
    info->last_promoted_bytes = record->promoted;
    info->last_reclaimed_bytes = record->reclaimed;
}

RUNTIME_BASE_API void RhGetMemoryInfo(RhGcMemoryInfo *info, int32_t kind)
{
    if (info == NULL)
        return;
    memset(info, 0, sizeof *info);
    rb_lock_acquire(&rb_gc_lock);
    info->collection_count = stats.collections;
    for (unsigned g = 0; g <= MAX_GENERATION; g++)
        info->gen_collection_count[g] = stats.gen_collections[g];
    copy_record(info, kind == 1 ? &stats.last_ephemeral : kind == 2 ? &stats.last_full : &stats.last_any);
    for (unsigned i = 0; i < SEGMENT_COUNT; i++) {
        if (segments[i].state == SEG_CURRENT || segments[i].state == SEG_SMALL || segments[i].state == SEG_LARGE)
            info->heap_size_bytes += segments[i].used;
    }
    info->committed_bytes = stats.committed;
    info->reserved_bytes = atomic_load(&heap_base) != NULL ? HEAP_SIZE : 0;
    info->total_allocated_bytes = stats.allocated_bytes;
    info->total_allocated_objects = stats.allocated_objects;
    info->finalization_pending = finalizable_count + (fqueue_count - fqueue_head);
    info->finalizers_run = stats.finalizers_run;
    for (unsigned i = 0; i < FROZEN_SEGMENTS; i++)
        info->frozen_segment_count += frozen[i].used;
    rb_lock_release(&rb_gc_lock);
}

RUNTIME_BASE_API uint32_t RhGetGCDescSize(const RhMethodTable *type)
{
    if (type == NULL || (type->flags & RH_MT_FLAG_CONTAINS_POINTERS) == 0)
        return 0;
    uint32_t series = type->gc_series_count != 0 ? type->gc_series_count : 1;
    /* A series count, then (size, offset) per series. */
    return (uint32_t)((1 + 2 * (size_t)series) * sizeof(void *));
}

/* --- Exports: finalization ----------------------------------------------------------------- */

RUNTIME_BASE_API void RhSuppressFinalize(void *object)
{
    if (object == NULL)
        return;
    rb_lock_acquire(&rb_gc_lock);
    for (size_t i = 0; i < finalizable_count; i++) {
        if (finalizable[i] == object) {
            finalizable[i] = finalizable[--finalizable_count];
            break;
        }
    }
    rb_lock_release(&rb_gc_lock);
}

RUNTIME_BASE_API int32_t RhReRegisterForFinalize(void *object)
{
    if (object == NULL || !rb_ensure_initialized())
        return 0;
    int32_t ok = 1;
    rb_lock_acquire(&rb_gc_lock);
    bool present = false;
    for (size_t i = 0; i < finalizable_count && !present; i++)
        present = finalizable[i] == object;
    if (!present) {
        if (grow_array(&finalizable, &finalizable_capacity, finalizable_count + 1))
            finalizable[finalizable_count++] = object;
        else
            ok = 0;
    }
    rb_lock_release(&rb_gc_lock);
    return ok;
}

/* --- Exports: roots and frozen segments ------------------------------------------------------ */

RUNTIME_BASE_API void RhRegisterForGCReporting(RhGcFrameRegistration *frame)
{
    rb_thread *thread = rb_thread_current();
    if (thread == NULL)
        rb_fail_fast("RhRegisterForGCReporting: the thread cannot be attached to the runtime");
    rb_lock_acquire(&rb_gc_lock);
    frame->thread = thread;
    frame->next = thread->frames;
    thread->frames = frame;
    rb_lock_release(&rb_gc_lock);
}

RUNTIME_BASE_API void RhUnregisterForGCReporting(RhGcFrameRegistration *frame)
{
    rb_lock_acquire(&rb_gc_lock);
    rb_thread *thread = frame->thread;
    bool innermost = thread != NULL && thread->frames == frame;
    if (innermost) {
        thread->frames = frame->next;
        frame->next = NULL;
        frame->thread = NULL;
    }
    rb_lock_release(&rb_gc_lock);
    if (!innermost)
        rb_fail_fast("RhUnregisterForGCReporting: GC frames must be unregistered innermost first");
}

RUNTIME_BASE_API void *RhRegisterFrozenSegment(void *start, size_t allocated_size, size_t committed_size,
                                               size_t reserved_size)
{
    if (start == NULL || allocated_size > committed_size || committed_size > reserved_size)
        return NULL;
    void *handle = NULL;
    rb_lock_acquire(&rb_gc_lock);
    for (unsigned i = 0; i < FROZEN_SEGMENTS && handle == NULL; i++) {
        if (!frozen[i].used) {
            frozen[i] = (frozen_segment){ start, allocated_size, committed_size, reserved_size, true };
            handle = &frozen[i];
        }
    }
    rb_lock_release(&rb_gc_lock);
    return handle;
}

RUNTIME_BASE_API void RhUpdateFrozenSegment(void *segment_handle, void *allocated, void *committed)
{
    rb_lock_acquire(&rb_gc_lock);
    for (unsigned i = 0; i < FROZEN_SEGMENTS; i++) {
        frozen_segment *f = &frozen[i];
        if (segment_handle != f || !f->used)
            continue;
        size_t new_allocated = (size_t)((unsigned char *)allocated - f->start);
        size_t new_committed = (size_t)((unsigned char *)committed - f->start);
        if (new_allocated <= new_committed && new_committed <= f->reserved) {
            f->allocated = new_allocated;
            f->committed = new_committed;
        }
    }
    rb_lock_release(&rb_gc_lock);
}

RUNTIME_BASE_API void RhpGcPoll(void)
{
    if (!rb_is_initialized())
        return;
    rb_gc_wait_while_trapped();
    run_finalizers();
}

RUNTIME_BASE_API uint32_t RhpTrapThreads(void)
{
    return atomic_load_explicit(&trap_threads, memory_order_acquire);
}

/* --- Exports: write barriers ----------------------------------------------------------------- */

RUNTIME_BASE_API void RhpAssignRef(void **dst, void *ref)
{
    remember(dst, ref); /* first: a collection between the two steps still sees the reference */
    *dst = ref;
}

RUNTIME_BASE_API void RhpCheckedAssignRef(void **dst, void *ref)
{
    remember(dst, ref); /* a destination outside the heap is simply not recorded */
    *dst = ref;
}

RUNTIME_BASE_API void RhpByRefAssignRef(void **dst, void *const *src)
{
    void *ref = *src;
    remember(dst, ref);
    *dst = ref;
}

RUNTIME_BASE_API void RhBulkMoveWithWriteBarrier(void *dst, const void *src, size_t size)
{
    if (dst == src || size == 0)
        return;
    if ((uintptr_t)dst % sizeof(void *) == 0 && (uintptr_t)src % sizeof(void *) == 0 && raw_segment(dst) >= 0) {
        /* Any pointer-sized word that points into the heap may be a reference. */
        const unsigned char *from = src;
        unsigned char *to = dst;
        for (size_t offset = 0; offset + sizeof(void *) <= size; offset += sizeof(void *)) {
            void *word;
            memcpy(&word, from + offset, sizeof word);
            remember(to + offset, word);
        }
    }
    memmove(dst, src, size);
}

RUNTIME_BASE_API void *RhpCheckedLockCmpXchg(void **location, void *value, void *comparand)
{
    remember(location, value);
    void *expected = comparand;
    __atomic_compare_exchange_n(location, &expected, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

RUNTIME_BASE_API void *RhpCheckedXchg(void **location, void *value)
{
    remember(location, value);
    return __atomic_exchange_n(location, value, __ATOMIC_SEQ_CST);
}
