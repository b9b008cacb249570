/* A linked-list node object the runtime allocates and scans: shared by the allocating apps. */
#ifndef APP_NODE_H
#define APP_NODE_H

#include "RuntimeBase.h"

typedef struct node {
    const RhMethodTable *method_table;
    struct node *next;
    int64_t value;
} node;

static const RhMethodTable node_type = {
    0, RH_MT_FLAG_CONTAINS_POINTERS, sizeof(node), NULL, "Node", NULL, NULL, 0, 1,
};

#endif
