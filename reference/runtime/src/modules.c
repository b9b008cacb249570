/*
 * modules.c - OS modules, type managers, code queries, the thunk pool and interface dispatch.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define MAX_OS_MODULES 64

typedef struct os_module {
    void *handle;
    uintptr_t code_start;
    uintptr_t code_end;
    uintptr_t stubs_start;
    uintptr_t stubs_end;
    void **classlib_functions;
    uint32_t classlib_function_count;
} os_module;

struct RhTypeManager {
    struct RhTypeManager *next;
    void *os_module;
    const RhModuleHeader *header;
    void **classlib_functions;
    uint32_t classlib_function_count;
};

static rb_lock modules_lock = RB_LOCK_INIT;
static os_module modules[MAX_OS_MODULES];
static uint32_t module_count;
static struct RhTypeManager *type_managers; /* never freed: handles stay valid */

static int32_t register_module(void *handle, void *code_start, uint32_t code_size, void *stubs_start,
                               uint32_t stubs_size, void **classlib_functions, uint32_t classlib_function_count)
{
    if (handle == NULL)
        return 0;
    os_module entry = {
        handle,
        (uintptr_t)code_start,
        (uintptr_t)code_start + code_size,
        (uintptr_t)stubs_start,
        (uintptr_t)stubs_start + stubs_size,
        classlib_functions,
        classlib_function_count,
    };
    int32_t ok = 1;
    rb_lock_acquire(&modules_lock);
    uint32_t i = 0;
    while (i < module_count && modules[i].handle != handle)
        i++;
    if (i < module_count)
        modules[i] = entry; /* registered again: newer ranges win */
    else if (module_count < MAX_OS_MODULES)
        modules[module_count++] = entry;
    else
        ok = 0;
    rb_lock_release(&modules_lock);
    return ok;
}

RUNTIME_BASE_API int32_t RhRegisterOSModule(void *os_module_handle, void *code_start, uint32_t code_size,
                                            void *unboxing_stubs_start, uint32_t unboxing_stubs_size,
                                            void **classlib_functions, uint32_t classlib_function_count)
{
    return register_module(os_module_handle, code_start, code_size, unboxing_stubs_start, unboxing_stubs_size,
                           classlib_functions, classlib_function_count);
}

RUNTIME_BASE_API int32_t RhpRegisterOsModule(void *os_module_handle)
{
    return register_module(os_module_handle, NULL, 0, NULL, 0, NULL, 0);
}

RUNTIME_BASE_API void *PalGetModuleHandleFromPointer(const void *address)
{
    return pal_module_base(address);
}

RUNTIME_BASE_API void *RhGetOSModuleFromPointer(const void *address)
{
    uintptr_t p = (uintptr_t)address;
    void *base = pal_module_base(address);
    void *found = NULL;
    rb_lock_acquire(&modules_lock);
    for (uint32_t i = 0; i < module_count && found == NULL; i++) {
        const os_module *m = &modules[i];
        if ((p >= m->code_start && p < m->code_end) || (p >= m->stubs_start && p < m->stubs_end) ||
            (base != NULL && base == m->handle))
            found = m->handle;
    }
    rb_lock_release(&modules_lock);
    return found;
}

/* --- Type managers ----------------------------------------------------------------------- */

RUNTIME_BASE_API RhTypeManagerHandle RhpCreateTypeManager(void *os_module_handle, const RhModuleHeader *header,
                                                          void **classlib_functions,
                                                          uint32_t classlib_function_count)
{
    if (header == NULL || header->signature != RH_MODULE_HEADER_SIGNATURE ||
        (header->section_count != 0 && header->sections == NULL))
        return NULL;
    struct RhTypeManager *manager = calloc(1, sizeof *manager);
    if (manager == NULL)
        return NULL;
    manager->os_module = os_module_handle;
    manager->header = header;
    manager->classlib_functions = classlib_functions;
    manager->classlib_function_count = classlib_function_count;
    rb_lock_acquire(&modules_lock);
    manager->next = type_managers;
    type_managers = manager;
    rb_lock_release(&modules_lock);
    return manager;
}

static const RhModuleSection *find_section(RhTypeManagerHandle manager, int32_t section_id)
{
    if (manager == NULL)
        return NULL;
    const RhModuleHeader *header = manager->header;
    for (uint32_t i = 0; i < header->section_count; i++) {
        if (header->sections[i].section_id == section_id)
            return &header->sections[i];
    }
    return NULL;
}

RUNTIME_BASE_API const void *RhpGetModuleSection(RhTypeManagerHandle type_manager, int32_t section_id,
                                                 int32_t *length)
{
    const RhModuleSection *section = find_section(type_manager, section_id);
    if (length != NULL)
        *length = section != NULL ? (int32_t)section->size : 0;
    return section != NULL ? section->start : NULL;
}

RUNTIME_BASE_API int32_t RhFindBlob(RhTypeManagerHandle type_manager, uint32_t blob_id, const uint8_t **blob,
                                    uint32_t *blob_size)
{
    const RhModuleSection *index = find_section(type_manager, RH_SECTION_BLOB_INDEX);
    const RhModuleSection *data = find_section(type_manager, RH_SECTION_BLOB_DATA);
    if (index == NULL || data == NULL || index->start == NULL)
        return 0;
    /* The index holds one offset per blob and one past the last. */
    uint32_t entries = index->size / (uint32_t)sizeof(uint32_t);
    if (entries < 2 || blob_id > entries - 2)
        return 0;
    uint32_t start;
    uint32_t end;
    memcpy(&start, (const uint8_t *)index->start + (size_t)blob_id * sizeof start, sizeof start);
    memcpy(&end, (const uint8_t *)index->start + ((size_t)blob_id + 1) * sizeof end, sizeof end);
    if (start > end || end > data->size)
        return 0;
    if (blob != NULL)
        *blob = (const uint8_t *)data->start + start;
    if (blob_size != NULL)
        *blob_size = end - start;
    return 1;
}

/* --- Code -------------------------------------------------------------------------------- */

static void common_stub(void)
{
    rb_fail_fast("a thunk was called: the reference runtime's thunk stubs are data, not code");
}

RUNTIME_BASE_API void *RhFindMethodStartAddress(const void *ip)
{
    return pal_symbol_start(ip);
}

RUNTIME_BASE_API void *RhGetCodeTarget(void *code)
{
    return code; /* the reference runtime emits no jump stubs: code is its own target */
}

RUNTIME_BASE_API void *RhGetTargetOfUnboxingAndInstantiatingStub(void *code)
{
    (void)code;
    return NULL; /* not a stub */
}

RUNTIME_BASE_API void *RhGetCommonStubAddress(void)
{
    return (void *)(uintptr_t)common_stub;
}

/* --- Thunk pool -------------------------------------------------------------------------- */

#define THUNK_BLOCK_SIZE 4096
#define THUNK_BLOCKS_PER_MAPPING 8
#define THUNK_SIZE 16
#define THUNKS_PER_BLOCK (THUNK_BLOCK_SIZE / THUNK_SIZE)
#define THUNKS_MAP_SIZE ((uintptr_t)THUNK_BLOCK_SIZE * THUNK_BLOCKS_PER_MAPPING)

RUNTIME_BASE_API void *RhAllocateThunksMapping(void)
{
    /* Stub blocks, then as many data blocks: a thunk's data is THUNKS_MAP_SIZE past its stub. */
    size_t size = 2 * THUNKS_MAP_SIZE;
    unsigned char *mapping = pal_reserve(size);
    if (mapping == NULL)
        return NULL;
    if (pal_commit(mapping, size) != 0) {
        pal_release(mapping, size);
        return NULL;
    }
    /* Each stub records its data slot and the common stub, as the real stubs load them. */
    void *common = (void *)(uintptr_t)common_stub;
    for (size_t i = 0; i < (size_t)THUNKS_PER_BLOCK * THUNK_BLOCKS_PER_MAPPING; i++) {
        unsigned char *stub = mapping + i * THUNK_SIZE;
        void *data = stub + THUNKS_MAP_SIZE;
        memcpy(stub, &data, sizeof data);
        memcpy(stub + sizeof data, &common, sizeof common);
    }
    return mapping;
}

RUNTIME_BASE_API int32_t RhpGetNumThunkBlocksPerMapping(void)
{
    return THUNK_BLOCKS_PER_MAPPING;
}

RUNTIME_BASE_API int32_t RhpGetNumThunksPerBlock(void)
{
    return THUNKS_PER_BLOCK;
}

RUNTIME_BASE_API int32_t RhpGetThunkSize(void)
{
    return THUNK_SIZE;
}

RUNTIME_BASE_API int32_t RhpGetThunkBlockSize(void)
{
    return THUNK_BLOCK_SIZE;
}

RUNTIME_BASE_API void *RhpGetThunkDataBlockAddress(void *thunk_stub_address)
{
    uintptr_t block = (uintptr_t)thunk_stub_address & ~(uintptr_t)(THUNK_BLOCK_SIZE - 1);
    return (void *)(block + THUNKS_MAP_SIZE);
}

RUNTIME_BASE_API void *RhpGetThunkStubsBlockAddress(void *thunk_data_address)
{
    uintptr_t block = (uintptr_t)thunk_data_address & ~(uintptr_t)(THUNK_BLOCK_SIZE - 1);
    return (void *)(block - THUNKS_MAP_SIZE);
}

/* --- Interface dispatch ------------------------------------------------------------------ */

#define CELLS_PER_CHUNK 64

typedef struct cell_chunk {
    struct cell_chunk *next;
    uint32_t used;
    RhInterfaceDispatchCell cells[CELLS_PER_CHUNK];
} cell_chunk;

static cell_chunk *cell_chunks; /* never freed: cells stay valid */

static RhCode resolve_dispatch(const RhInterfaceDispatchCell *cell, const void *object)
{
    if (cell == NULL || object == NULL)
        return NULL;
    for (const RhMethodTable *type = ((const RhObject *)object)->method_table; type != NULL; type = type->base_type) {
        for (uint32_t i = 0; i < type->dispatch_map_count; i++) {
            const RhDispatchMapEntry *entry = &type->dispatch_map[i];
            if (entry->interface_type == cell->interface_type && entry->slot == cell->slot)
                return entry->target;
        }
    }
    return NULL;
}

static void dispatch_stub(void)
{
    rb_fail_fast("an interface dispatch cell's stub was called directly: use RhpInitialDynamicInterfaceDispatch");
}

RUNTIME_BASE_API RhInterfaceDispatchCell *RhNewInterfaceDispatchCell(const RhMethodTable *interface_type, int32_t slot)
{
    if (interface_type == NULL || slot < 0)
        return NULL;
    RhInterfaceDispatchCell *cell = NULL;
    rb_lock_acquire(&modules_lock);
    if (cell_chunks == NULL || cell_chunks->used == CELLS_PER_CHUNK) {
        cell_chunk *chunk = calloc(1, sizeof *chunk);
        if (chunk != NULL) {
            chunk->next = cell_chunks;
            cell_chunks = chunk;
        }
    }
    if (cell_chunks != NULL && cell_chunks->used < CELLS_PER_CHUNK) {
        cell = &cell_chunks->cells[cell_chunks->used++];
        cell->stub = dispatch_stub;
        cell->interface_type = interface_type;
        cell->slot = (uint32_t)slot;
    }
    rb_lock_release(&modules_lock);
    return cell;
}

RUNTIME_BASE_API RhCode RhpInitialDynamicInterfaceDispatch(const RhInterfaceDispatchCell *cell, const void *object)
{
    return resolve_dispatch(cell, object);
}
